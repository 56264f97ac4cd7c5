defmodule MixDeploy.Scratch do
  @moduledoc """
  Scratch Mix projects for tests: a minimal `mix.exs` in a temp dir, the given
  `:mix_deploy` / `:mix_systemd` config put into the application env, and a function
  run inside the project (so `Mix.Project.config/0`, `File.cwd!/0` and the tasks see
  it). Tests using it must be `async: false`: app env and cwd are global.
  """

  @doc """
  Runs `fun` inside a project `app` in `dir` with the given config.

  Options: `:deploy` and `:systemd` (keyword lists), `:version` (default "0.1.0"),
  `:env` (Mix env, default :prod).
  """
  def in_project(dir, app, opts, fun) do
    File.mkdir_p!(dir)
    version = Keyword.get(opts, :version, "0.1.0")
    module = "Scratch#{:erlang.phash2({dir, version})}.MixProject"

    File.write!(Path.join(dir, "mix.exs"), """
    defmodule #{module} do
      use Mix.Project
      def project, do: [app: #{inspect(app)}, version: #{inspect(version)}]
    end
    """)

    previous_env = Mix.env()
    Mix.env(Keyword.get(opts, :env, :prod))
    saved = for ns <- [:mix_deploy, :mix_systemd], do: {ns, Application.get_all_env(ns)}
    put_config(:mix_deploy, Keyword.get(opts, :deploy, []))
    put_config(:mix_systemd, Keyword.get(opts, :systemd, []))

    try do
      Mix.Project.in_project(app, dir, [], fn _ -> fun.() end)
    after
      Enum.each(saved, fn {ns, env} -> put_config(ns, env) end)
      Mix.env(previous_env)
    end
  end

  defp put_config(ns, config) do
    for {k, _} <- Application.get_all_env(ns), do: Application.delete_env(ns, k)
    for {k, v} <- config, do: Application.put_env(ns, k, v)
  end

  @doc """
  Generates the deploy scripts of `config` in a project `dir/project` (app
  `:foo_bar`, prod); returns the project dir.
  """
  def generate_deploy(dir, config) do
    project = Path.join(dir, "project")
    in_project(project, :foo_bar, [deploy: config], fn -> mix("deploy.generate") end)
    project
  end

  @doc """
  Writes a stand-in release tar at `tar`, as `mix release` with steps:
  [:assemble, :tar] would leave one: `bin/<name>` with the shell script `exe`,
  `releases/start_erl.data` naming `vsn`, and `files` (`{path, contents}`, or
  `{path, {:symlink, target}}`; parent dirs are made).
  It is built in `src`, emptied first. Returns `tar`.
  """
  def release_tar(src, tar, name, vsn, exe, files \\ []) do
    File.rm_rf!(src)
    for dir <- ["bin", "releases/#{vsn}"], do: File.mkdir_p!(Path.join(src, dir))
    # As mix release writes it: "ERTS_VSN APP_VSN".
    File.write!(Path.join(src, "releases/start_erl.data"), "13.1.5 #{vsn}")

    for {path, what} <- files do
      File.mkdir_p!(Path.dirname(Path.join(src, path)))

      case what do
        {:symlink, target} -> File.ln_s!(target, Path.join(src, path))
        text -> File.write!(Path.join(src, path), text)
      end
    end

    File.write!(Path.join(src, "bin/#{name}"), exe)
    File.chmod!(Path.join(src, "bin/#{name}"), 0o700)
    File.mkdir_p!(Path.dirname(tar))
    {_, 0} = System.cmd("tar", ["-czf", tar, "-C", src, "."])
    tar
  end

  @doc """
  For a test's setup: the Mix shell becomes `Mix.Shell.Process` and the
  environment variables `names` are unset (the runner's cannot leak into the
  scripts); both are put back when the test ends.
  """
  def isolate_env(names) do
    Mix.shell(Mix.Shell.Process)
    saved = for name <- names, do: {name, System.get_env(name)}
    Enum.each(names, &System.delete_env/1)

    ExUnit.Callbacks.on_exit(fn ->
      Mix.shell(Mix.Shell.IO)

      for {name, value} <- saved do
        if value, do: System.put_env(name, value), else: System.delete_env(name)
      end
    end)
  end

  @doc "Returns once `path` exists; fails the test after `timeout` ms."
  def wait_for_file(path, timeout \\ 30_000) do
    cond do
      File.exists?(path) ->
        :ok

      timeout <= 0 ->
        ExUnit.Assertions.flunk("#{path} did not appear")

      true ->
        Process.sleep(10)
        wait_for_file(path, timeout - 10)
    end
  end

  @doc """
  Holds an exclusive flock on `lock` (with flock(1), as the scripts take it) while
  `fun` runs; `dir` holds the handshake files.
  """
  def with_lock_held(dir, lock, fun) do
    held = Path.join(dir, "held")
    release = Path.join(dir, "release-lock")

    holder =
      Task.async(fn ->
        System.cmd("flock", [
          lock,
          "sh",
          "-c",
          ~s(: > "$1"; while [ ! -e "$2" ]; do sleep 0.05; done),
          "sh",
          held,
          release
        ])
      end)

    wait_for_file(held)

    try do
      fun.()
    after
      File.touch!(release)
      Task.await(holder, :infinity)
      File.rm!(held)
      File.rm!(release)
    end
  end

  @doc "Runs a Mix task fresh (tasks run once per VM otherwise)."
  def mix(task, args \\ []), do: Mix.Task.rerun(task, args)

  @doc "Shellcheck findings of a file at default severity, as text (empty: clean)."
  def shellcheck(path) do
    {out, _} = System.cmd("shellcheck", ["-s", "bash", path], stderr_to_stdout: true)
    out
  end

  @doc "Syntax check with bash -n; \"\" when clean."
  def bash_n(path) do
    {out, _} = System.cmd("bash", ["-n", path], stderr_to_stdout: true)
    out
  end
end
