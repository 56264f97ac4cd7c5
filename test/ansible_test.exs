defmodule MixDeploy.AnsibleTest do
  @moduledoc """
  The playbooks `"ansible"` in templates writes, read by Ansible itself: each passes
  `ansible-playbook --syntax-check`, and deploy.yml finds the release tar as its
  header says (the release built last, RELEASE_TAR, -e release_tar=), stopping
  before it touches any host when there is none. Config values reach Ansible as
  literals, never as templates. The fleet itself is test/e2e/fleet.
  """
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  @ansible System.find_executable("ansible-playbook")

  @templates ~w(init-local create-users create-dirs copy-files enable release restart rollback
                start stop validate-service ansible)

  setup %{tmp_dir: dir} do
    if @ansible == nil do
      flunk("ansible-playbook is not installed: script/bootstrap installs ansible-core")
    end

    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
    # A version Ansible would evaluate if it templated config values.
    project =
      generate_deploy(dir,
        templates: @templates,
        version: "0.1.0{{ 6 * 7 }}",
        ansible_serial: "50%"
      )

    %{project: project}
  end

  # Runs ansible-playbook on this machine only (-c local), its state in the tmp dir.
  defp playbook(project, dir, args, env \\ []) do
    env =
      [
        {"ANSIBLE_HOME", Path.join(dir, "ansible")},
        {"ANSIBLE_LOCAL_TEMP", Path.join(dir, "ansible/tmp")},
        {"ANSIBLE_NOCOLOR", "1"},
        {"ANSIBLE_CONFIG", Path.join(dir, "ansible.cfg")},
        {"RELEASE_TAR", nil}
      ] ++ env

    File.write!(Path.join(dir, "ansible.cfg"), "")

    System.cmd(@ansible, ["-i", "localhost,", "-c", "local"] ++ args,
      cd: project,
      env: env,
      stderr_to_stdout: true
    )
  end

  test "every playbook passes ansible-playbook --syntax-check", %{project: p, tmp_dir: dir} do
    for book <- ~w(setup deploy rollback) do
      {out, status} = playbook(p, dir, ["--syntax-check", "ansible/#{book}.yml"])
      assert status == 0, "ansible/#{book}.yml:\n#{out}"
    end
  end

  test "with migrate_on_deploy and status: the four playbooks pass --syntax-check",
       %{tmp_dir: dir} do
    project =
      generate_deploy(Path.join(dir, "phase"),
        templates: @templates ++ ~w(set-env migrate status),
        migrate_on_deploy: true
      )

    assert File.exists?(Path.join(project, "ansible/status.yml"))

    for book <- ~w(setup deploy rollback status) do
      {out, status} = playbook(project, dir, ["--syntax-check", "ansible/#{book}.yml"])
      assert status == 0, "ansible/#{book}.yml:\n#{out}"
    end

    # status.yml runs deploy-status here (nothing deployed) and prints the table.
    {out, 0} = playbook(project, dir, ["ansible/status.yml"])
    assert out =~ ~r/"HOST +VERSION +RELEASE +SINCE +HEALTH"/, out
    assert out =~ ~r/"localhost +- +- +- +-"/, out

    deploy = File.read!(Path.join(project, "ansible/deploy.yml"))
    assert deploy =~ ~s("${fleet_bin}/${PREFIX}release" --stage)
    assert deploy =~ ~s("${fleet_bin}/${PREFIX}migrate" "$STAGED")

    assert deploy =~
             "run_once: true\n          when: ansible_play_hosts_all[0] in ansible_play_batch"
  end

  test "without a release tar deploy.yml stops before any host task, naming the path",
       %{project: p, tmp_dir: dir} do
    {out, status} = playbook(p, dir, ["ansible/deploy.yml"])
    assert status != 0, out
    # The version is the literal config value: Ansible did not evaluate it.
    assert out =~ "release tar not found: #{p}/_build/prod/foo_bar-0.1.0{{ 6 * 7 }}.tar.gz", out
    assert out =~ "No host was changed", out
    refute out =~ "Note the release each host runs now", out
  end

  test "the release built last wins over the version at generation",
       %{project: p, tmp_dir: dir} do
    data = Path.join(p, "_build/prod/rel/foo_bar/releases/start_erl.data")
    File.mkdir_p!(Path.dirname(data))
    File.write!(data, "14.2 0.2.0\n")
    {out, _} = playbook(p, dir, ["ansible/deploy.yml"])
    assert out =~ "release tar not found: #{p}/_build/prod/foo_bar-0.2.0.tar.gz", out
  end

  test "RELEASE_TAR and -e release_tar= name the tar", %{project: p, tmp_dir: dir} do
    {out, _} =
      playbook(p, dir, ["ansible/deploy.yml"], [{"RELEASE_TAR", "/nonexistent/a.tar.gz"}])

    assert out =~ "release tar not found: /nonexistent/a.tar.gz", out

    {out, _} =
      playbook(p, dir, ["ansible/deploy.yml", "-e", "release_tar=/nonexistent/b.tar.gz"], [
        {"RELEASE_TAR", "/nonexistent/a.tar.gz"}
      ])

    assert out =~ "release tar not found: /nonexistent/b.tar.gz", out
  end

  test "ansible_serial is the batch size, -e serial= overrides it", %{project: p, tmp_dir: dir} do
    deploy = File.read!(Path.join(p, "ansible/deploy.yml"))
    assert deploy =~ ~s[serial: "{{ serial | default('50%') }}"]
    {out, 0} = playbook(p, dir, ["--list-hosts", "ansible/deploy.yml", "-e", "serial=1"])
    assert out =~ "localhost", out
  end

  # The shell task of rollback.yml, as the host's bash runs it: the scripts come on
  # its stdin (fleet-payload), are written into a directory only root can enter and
  # checked against their sha256; a wrong sum or an empty stdin runs nothing.
  test "rollback.yml's task runs the scripts of its stdin only when their sha256 matches",
       %{project: p, tmp_dir: dir} do
    body =
      System.cmd(
        "python3",
        [
          "-c",
          """
          import sys, yaml
          yaml.SafeLoader.add_constructor('!unsafe', lambda l, n: l.construct_scalar(n))
          play = yaml.safe_load(open(sys.argv[1]))[0]
          task = [t for t in play['tasks'] if 'ansible.builtin.shell' in t][0]
          assert task['args']['stdin'] == '{{ fleet_payload }}', task['args']
          assert task['vars']['fleet_ship'] == ['rollback', 'restart'], task['vars']
          sys.stdout.write(task['ansible.builtin.shell'])
          """,
          Path.join(p, "ansible/rollback.yml")
        ],
        stderr_to_stdout: true
      )
      |> then(fn {out, 0} -> out end)

    log = Path.join(dir, "ran")
    fake = fn name -> "#!/bin/bash\necho #{name} \"$@\" >>\"$FAKE_LOG\"\n" end

    line = fn name, text, sum ->
      "#{name} #{sum || Base.encode16(:crypto.hash(:sha256, text), case: :lower)} #{Base.encode64(text)}\n"
    end

    # Where mktemp makes fleet_bin: empty again after every run, whatever its outcome.
    tmp = Path.join(dir, "tmp")
    File.mkdir_p!(tmp)

    run = fn stdin ->
      File.rm_rf!(log)
      stdin_file = Path.join(dir, "stdin")
      File.write!(stdin_file, stdin)

      # The body's stdin from a file (a port's stdin would never end).
      System.cmd("bash", ["-c", "bash -c \"$1\" task <\"$2\"", "sh", body, stdin_file],
        env: [
          {"FLEET_LOCK", Path.join(dir, "fleet.lock")},
          {"PREFIX", "deploy-"},
          {"FAKE_LOG", log},
          {"TMPDIR", tmp}
        ],
        stderr_to_stdout: true,
        cd: dir
      )
    end

    good = line.("rollback", fake.("rollback"), nil) <> line.("restart", fake.("restart"), nil)
    {out, 0} = run.(good)
    assert File.ls!(tmp) == [], out
    assert File.read!(log) == "rollback\nrestart\n", out

    # One byte changed on the way: nothing runs, and it says which.
    bad =
      line.("rollback", fake.("rollback"), String.duplicate("0", 64)) <>
        line.("restart", fake.("restart"), nil)

    {out, 1} = run.(bad)
    assert File.ls!(tmp) == [], out

    assert out =~
             "error: deploy-rollback as this run brought it differs from the one generated here"

    refute File.exists?(log)

    {out, 1} = run.("")
    assert File.ls!(tmp) == [], out
    assert out =~ "error: no script came with this task"
    refute File.exists?(log)
  end
end
