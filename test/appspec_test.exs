defmodule MixDeploy.AppspecTest do
  @moduledoc """
  The generated appspec.yml: read back for several template sets (by the YAML
  subset reader the end-to-end agent uses, and by PyYAML, which must read the
  same document; without PyYAML only outside CI), hooks only for enabled
  templates in the lifecycle order, values that stay strings; and
  deploy-stage-files staging everything it names.
  """
  use ExUnit.Case, async: false
  import MixDeploy.Scratch
  alias MixDeploy.AppspecYaml, as: Yaml

  @moduletag :tmp_dir

  # PyYAML (python3-yaml, installed by script/bootstrap) reads every appspec too.
  @pyyaml !MixDeploy.Requires.missing(
            __MODULE__,
            case System.find_executable("python3") do
              nil ->
                "python3 is not installed"

              py ->
                case System.cmd(py, ["-c", "import yaml"], stderr_to_stdout: true) do
                  {_, 0} -> nil
                  _ -> "python3 has no PyYAML (apt-get install python3-yaml)"
                end
            end,
            "PyYAML's reading of every appspec (test/support/appspec_yaml.ex reads them alone)"
          )

  # The reference documentation's agent example, plus validate-service.
  @agent ~w(stop create-users create-dirs clean-target extract-release set-perms migrate enable
            start restart validate-service appspec)

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  defp generate(dir, config, systemd \\ []) do
    project = Path.join(dir, "project")

    in_project(project, :foo_bar, [deploy: config, systemd: systemd], fn ->
      mix("deploy.generate")
      if systemd != [], do: mix("systemd.generate")
    end)

    project
  end

  # The appspec of `config`, read back; checked against PyYAML's reading when present.
  defp appspec(dir, config) do
    text = File.read!(Path.join(generate(dir, config), "appspec.yml"))
    doc = Yaml.parse!(text)
    if @pyyaml, do: assert(pyyaml_flat(text) == Yaml.flatten(doc), text)
    doc
  end

  defp pyyaml_flat(text) do
    script = ~S"""
    import sys, yaml
    def flat(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                yield from flat(x, path + [str(k)])
        elif isinstance(v, list):
            for i, x in enumerate(v):
                yield from flat(x, path + [str(i)])
        else:
            kind = {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}[type(v)]
            yield ".".join(path) + " = " + kind + ":" + ("" if v is None else str(v))
    for line in flat(yaml.safe_load(sys.stdin.read()), []):
        print(line)
    """

    file = Path.join(System.tmp_dir!(), "appspec-#{System.unique_integer([:positive])}.yml")
    File.write!(file, text)

    try do
      {out, 0} = System.cmd("sh", ["-c", "python3 -c \"$1\" < \"$2\"", "sh", script, file])
      String.split(out, "\n", trim: true)
    after
      File.rm(file)
    end
  end

  # {event, [{location, runas, timeout}]} in document order.
  defp hooks(doc) do
    for {event, list} <- Yaml.get(doc, ["hooks"]) || [] do
      {event,
       for(
         h <- list,
         do: {Yaml.get(h, ["location"]), Yaml.get(h, ["runas"]), Yaml.get(h, ["timeout"])}
       )}
    end
  end

  test "the agent template set: every lifecycle hook in order, migrate as the app user", %{
    tmp_dir: dir
  } do
    doc = appspec(dir, app_user: "app", health_check_timeout: 45, templates: @agent)
    assert Yaml.get(doc, ["version"]) == 0.0
    assert Yaml.get(doc, ["os"]) == "linux"

    assert Yaml.get(doc, ["files"]) == [
             [{"source", "bin"}, {"destination", "/srv/foo-bar/bin"}],
             [{"source", "systemd"}, {"destination", "/lib/systemd/system"}],
             [{"source", "etc"}, {"destination", "/srv/foo-bar/etc"}]
           ]

    assert hooks(doc) == [
             {"ApplicationStop", [{"bin/deploy-stop", nil, 300}]},
             {"BeforeInstall",
              [
                {"bin/deploy-create-users", nil, 300},
                {"bin/deploy-create-dirs", nil, 300},
                {"bin/deploy-clean-target", nil, 300}
              ]},
             {"AfterInstall",
              [
                {"bin/deploy-extract-release", nil, 300},
                {"bin/deploy-set-perms", nil, 300},
                {"bin/deploy-enable", nil, 300}
              ]},
             {"ApplicationStart",
              [{"bin/deploy-migrate", "app", 300}, {"bin/deploy-start", nil, 300}]},
             # Longer than the script's own timeout, so it is the script that reports.
             {"ValidateService", [{"bin/deploy-validate-service", nil, 105}]}
           ]
  end

  test "only enabled templates appear; an empty stage is left out", %{tmp_dir: dir} do
    doc = appspec(Path.join(dir, "a"), templates: ~w(appspec start extract-release))

    assert hooks(doc) == [
             {"AfterInstall", [{"bin/deploy-extract-release", nil, 300}]},
             {"ApplicationStart", [{"bin/deploy-start", nil, 300}]}
           ]

    doc = appspec(Path.join(dir, "b"), templates: ~w(appspec restart stage-files))
    assert Yaml.get(doc, ["hooks"]) == nil
    assert length(Yaml.get(doc, ["files"])) == 3
  end

  test "odd values stay the same strings: paths, prefix and a user named like a boolean", %{
    tmp_dir: dir
  } do
    doc =
      appspec(dir,
        deploy_dir: "/srv/it's a: #test",
        target_prefix: "dé'p $(x)-",
        app_user: "no",
        templates: ~w(appspec migrate stop)
      )

    assert Yaml.get(doc, ["files", 0, "destination"]) == "/srv/it's a: #test/bin"
    assert Yaml.get(doc, ["files", 2, "destination"]) == "/srv/it's a: #test/etc"
    assert Yaml.get(doc, ["hooks", "ApplicationStop", 0, "location"]) == "bin/dé'p $(x)-stop"
    assert Yaml.get(doc, ["hooks", "ApplicationStart", 0, "runas"]) == "no"
  end

  test "the reader refuses YAML outside the subset instead of misreading it" do
    for bad <- ["a: [1, 2]\n", "a: b: c\n", "a: 'x\n", "- a: 1\n  - b\n", "a: {x: 1}\n"] do
      assert_raise ArgumentError, fn -> Yaml.parse!(bad) end
    end
  end

  test "deploy-stage-files stages everything appspec.yml names, the release as <release>.tar.gz",
       %{tmp_dir: dir} do
    project =
      generate(
        dir,
        [
          copy_files: [%{src: "config/env", dst: [:deploy_dir, "/etc/environment"], mode: "640"}],
          restart_method: :systemd_flag,
          templates: @agent ++ ["stage-files", "set-env"]
        ],
        restart_method: :systemd_flag
      )

    File.mkdir_p!(Path.join(project, "config"))
    File.write!(Path.join(project, "config/env"), "X=1\n")
    # Two builds; the one last built (start_erl.data) is the one staged.
    build = Path.join(project, "_build/prod")
    File.mkdir_p!(Path.join(build, "rel/foo_bar/releases"))
    File.write!(Path.join(build, "rel/foo_bar/releases/start_erl.data"), "13.1.5 0.2.0")
    File.write!(Path.join(build, "foo_bar-0.1.0.tar.gz"), "old")
    File.write!(Path.join(build, "foo_bar-0.2.0.tar.gz"), "new")

    stage = Path.join(dir, "stage")

    {out, 0} =
      System.cmd(Path.join(project, "bin/deploy-stage-files"), [stage],
        cd: project,
        stderr_to_stdout: true
      )

    assert out =~ "==> Staging appspec.yml"

    assert File.read!(Path.join(stage, "appspec.yml")) ==
             File.read!(Path.join(project, "appspec.yml"))

    doc = Yaml.parse!(File.read!(Path.join(stage, "appspec.yml")))

    for entry <- Yaml.get(doc, ["files"]) do
      source = Path.join(stage, Yaml.get(entry, ["source"]))
      assert File.dir?(source) and File.ls!(source) != [], "#{source} is missing or empty"
    end

    for {_event, list} <- Yaml.get(doc, ["hooks"]), hook <- list do
      script = Path.join(stage, Yaml.get(hook, ["location"]))
      assert File.regular?(script), "#{script} is not staged"
      assert Bitwise.band(File.stat!(script).mode, 0o111) != 0, "#{script} is not executable"
    end

    assert File.ls!(Path.join(stage, "systemd")) |> Enum.sort() ==
             ~w(foo-bar-restart.path foo-bar-restart.service foo-bar.service)

    assert File.read!(Path.join(stage, "etc/environment")) == "X=1\n"
    assert File.read!(Path.join(stage, "foo_bar.tar.gz")) == "new"
    # extract-release, run from the staged bin/, takes the tar from the bundle root.
    assert File.read!(Path.join(stage, "bin/deploy-extract-release")) =~
             ~S|RELEASE_TAR="${bundle_dir}/${RELEASE_NAME}.tar.gz"|
  end
end
