defmodule MixDeploy.Task do
  @moduledoc false
  # What every task shares: gather the project's config into one JSON document,
  # call the core, print its report the way Mix generators do; for the local
  # tasks, run the script the core renders.

  alias MixDeploy.{JSON, Native}

  @doc """
  Parses a task's command line strictly: `switches` as for `OptionParser`, `-f` for
  `--force` when the task has one. A stray argument or an unknown or malformed
  switch raises naming it, with the task's `usage` line. Returns the options.
  """
  def parse_args!(args, switches, usage) do
    aliases = if Keyword.has_key?(switches, :force), do: [f: :force], else: []

    case OptionParser.parse(args, strict: switches, aliases: aliases) do
      {opts, [], []} ->
        opts

      {_, stray, []} ->
        Mix.raise("unexpected argument #{Enum.map_join(stray, " ", &inspect/1)}\nusage: #{usage}")

      {_, _, [{switch, value} | _]} ->
        problem =
          cond do
            not known_switch?(switch, switches, aliases) -> "unknown option #{switch}"
            value == nil -> "option #{switch} needs a value"
            true -> "invalid value #{inspect(value)} for #{switch}"
          end

        Mix.raise("#{problem}\nusage: #{usage}")
    end
  end

  defp known_switch?(switch, switches, aliases) do
    names =
      Enum.map(switches, fn {name, _} -> "--" <> String.replace(to_string(name), "_", "-") end)

    negated =
      for {name, :boolean} <- switches, do: "--no-" <> String.replace(to_string(name), "_", "-")

    short = Enum.map(aliases, fn {short, _} -> "-#{short}" end)
    switch in (names ++ negated ++ short)
  end

  @doc "The JSON document for the core: project facts, both namespaces' config, options."
  def input(namespace, options \\ %{}) when namespace in [:mix_deploy, :mix_systemd] do
    config = Mix.Project.config()
    cwd = File.cwd!()

    project =
      JSON.object(%{
        app: JSON.string(to_string(config[:app])),
        version: JSON.string(to_string(config[:version])),
        mix_env: JSON.string(to_string(Mix.env())),
        build_path: JSON.string(Path.relative_to(Mix.Project.build_path(), cwd)),
        project_dir: JSON.string(cwd)
      })

    env = fn ns -> Application.get_all_env(ns) |> Enum.sort_by(&elem(&1, 0)) end
    other = if namespace == :mix_deploy, do: :mix_systemd, else: :mix_deploy

    JSON.object(%{
      project: project,
      config: JSON.encode_iodata(env.(namespace)),
      # Keys both namespaces read are shared: set in one, the other takes them.
      other_config: JSON.encode_iodata(env.(other)),
      # Options are a plain JSON object of booleans and strings, not a tagged map.
      options: JSON.object(Map.new(options, fn {k, v} -> {k, JSON.encode_iodata(v)} end))
    })
    |> IO.iodata_to_binary()
  end

  @doc "mix deploy.generate / mix systemd.generate."
  def generate(namespace, side, opts, task) do
    check = Keyword.get(opts, :check, false)
    {changes, stale} = run(:generate, namespace, side, %{check: check})

    if check and stale do
      files =
        for {action, path} <- changes,
            action != :unchanged,
            do: "  #{path} (#{action_word(action)})"

      Mix.raise("""
      generated files are out of date:
      #{Enum.join(files, "\n")}
      Run `#{task}` to update them.
      """)
    end

    if check, do: Mix.shell().info("All #{length(changes)} generated files are up to date.")

    :ok
  end

  defp action_word(:creating), do: "missing"
  defp action_word(:updating), do: "stale"
  defp action_word(:removing), do: "no longer generated"
  defp action_word(other), do: to_string(other)

  @doc "mix deploy.init / mix systemd.init."
  def init(namespace, side, opts) do
    run(:init, namespace, side, %{force: Keyword.get(opts, :force, false)})
    :ok
  end

  @doc "Runs a generate/init NIF and prints its report; raises on user mistakes."
  def run(fun, namespace, side, options \\ %{}) do
    json = input(namespace, options)

    case apply(Native, fun, [json, side]) do
      {:ok, {changes, warnings, stale}} ->
        Enum.each(warnings, &Mix.shell().error("warning: " <> &1))
        unless options[:check], do: Enum.each(changes, &print_change/1)
        {changes, stale}

      {:error, message} ->
        Mix.raise(message)
    end
  end

  defp print_change({action, path}) do
    color =
      case action do
        :creating -> :green
        :updating -> :yellow
        :removing -> :red
        _ -> :default_color
      end

    Mix.shell().info([color, "* #{action} ", :reset, path])
  end

  @doc """
  mix deploy.local / mix deploy.local.rollback: renders the project's deploy
  script `name` (`"release"`, `"rollback"`) through the core exactly as
  `mix deploy.generate` would write it, from the project's template override and
  partials when it has them, and runs it with bash in the project directory.

  The script inherits the environment (DEPLOY_DIR=, DESTDIR=, ... work as for the
  generated script), plus `env`: the task's options as the variables the script
  reads, e.g. `%{"RELEASE_VSN" => "0.2.0"}`; nil values are left out. Its output
  is printed as it comes (stdout as info, stderr as errors); when it fails, its
  error output is raised as the Mix error, with its exit status.
  """
  def run_script(name, env) do
    script =
      case Native.render_script(input(:mix_deploy), name) do
        {:ok, text} -> text
        {:error, message} -> Mix.raise(message)
      end

    bash =
      System.find_executable("bash") || Mix.raise("bash not found: the deploy scripts need it")

    dir = private_dir!()
    clear_stale_dirs(dir)

    try do
      path = Path.join(dir, "deploy-#{name}")
      stderr = Path.join(dir, "stderr")
      File.write!(path, script, [:exclusive])
      status = run_bash(bash, path, stderr, env)
      errors = File.read!(stderr)

      if status == 0 do
        errors |> String.split("\n", trim: true) |> Enum.each(&Mix.shell().error/1)
      else
        Mix.raise(failure(errors, name, status), exit_status: status)
      end
    after
      File.rm_rf!(dir)
    end

    :ok
  end

  # A new directory only this user can enter, for the script and its stderr.
  defp private_dir!(attempt \\ 0) do
    name = "mix_deploy-#{System.pid()}-#{System.unique_integer([:positive])}"
    dir = Path.join(System.tmp_dir!(), name)

    case File.mkdir(dir) do
      :ok ->
        File.chmod!(dir, 0o700)
        dir

      {:error, :eexist} when attempt < 10 ->
        private_dir!(attempt + 1)

      {:error, reason} ->
        Mix.raise("cannot create a temporary directory #{dir}: #{:file.format_error(reason)}")
    end
  end

  # What a run killed before its clean-up left: the private dirs of this user
  # (the owner of `ours`) whose OS process is gone. Only where /proc says which
  # processes live.
  defp clear_stale_dirs(ours) do
    tmp = Path.dirname(ours)
    uid = File.lstat!(ours).uid

    with true <- File.dir?("/proc/self"), {:ok, names} <- File.ls(tmp) do
      for name <- names,
          [_, pid] <- [Regex.run(~r/^mix_deploy-(\d+)-\d+$/, name)],
          not File.exists?("/proc/#{pid}"),
          path = Path.join(tmp, name),
          match?({:ok, %File.Stat{type: :directory, uid: ^uid}}, File.lstat(path)) do
        File.rm_rf(path)
      end
    end
  end

  # Runs `bash path` with stderr to the file `stderr`, printing stdout lines as
  # they come; returns the exit status.
  defp run_bash(bash, path, stderr, env) do
    env = for {k, v} <- env, v != nil, do: {String.to_charlist(k), String.to_charlist(v)}

    port =
      Port.open({:spawn_executable, bash}, [
        :binary,
        :exit_status,
        {:line, 65_536},
        {:cd, File.cwd!()},
        {:env, env},
        {:args, ["-c", ~S(exec "$BASH" -- "$1" 2>"$2"), "mix_deploy", path, stderr]}
      ])

    stream_port(port, "")
  end

  defp stream_port(port, partial) do
    receive do
      {^port, {:data, {:eol, line}}} ->
        Mix.shell().info(partial <> line)
        stream_port(port, "")

      {^port, {:data, {:noeol, part}}} ->
        stream_port(port, partial <> part)

      {^port, {:exit_status, status}} ->
        if partial != "", do: Mix.shell().info(partial)
        status
    end
  end

  # The script's error output as one message, without its "error: " prefix
  # (Mix prints its own; the prefix is the plan's error_prefix, which only the
  # scripts' core partial prints); or which script failed how, when it said nothing.
  defp failure(errors, name, status) do
    case String.trim(errors) do
      "" -> "deploy-#{name} failed with exit status #{status}"
      "error: " <> message -> message
      message -> message
    end
  end
end
