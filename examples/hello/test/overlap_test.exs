defmodule Hello.OverlapTest do
  # hello as systemd runs it: its own VM, handed a listening socket as fd 3 by
  # systemd-socket-activate (which execs it at the first connection). Loopback only,
  # on a port the kernel picked for this test.
  use ExUnit.Case, async: true

  @moduletag timeout: 60_000

  # A short path: a unix socket's path has at most 107 bytes.
  setup do
    dir = Path.join(System.tmp_dir!(), "hello-test-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    %{control: Path.join(dir, "control.sock")}
  end

  test "without the overlap environment it serves fd 3 at once, as before" do
    app = start_hello([])
    assert {:ok, 200, "hello " <> _} = public(app, "GET", "/", 10_000)
  end

  test "serving fd 3 keeps the socket's backlog (listen() again would set it to 5)" do
    app = start_hello([])
    assert {:ok, 200, "hello " <> _} = public(app, "GET", "/", 10_000)
    # ss shows a listening socket's backlog as its Send-Q (third column).
    {out, 0} = System.cmd("ss", ["-ltnH", "sport = :#{app.tcp_port}"])
    [_state, _recv_q, backlog | _] = String.split(out)
    somaxconn = File.read!("/proc/sys/net/core/somaxconn") |> String.trim() |> String.to_integer()
    assert String.to_integer(backlog) == min(4096, somaxconn)
  end

  test "as an overlap instance it answers privately and accepts on fd 3 only after POST /accept",
       ctx do
    app = start_hello(overlap: ctx.control)
    # This connection makes systemd-socket-activate start hello; it must wait.
    waiting = Task.async(fn -> public(app, "GET", "/", 20_000) end)

    assert {:ok, 200, "hello " <> _} = await_control(ctx.control, "GET", "/")
    Process.sleep(500)
    assert Task.yield(waiting, 0) == nil, "hello answered on fd 3 before POST /accept"

    assert {:ok, 200, "accepting\n"} = control(ctx.control, "POST", "/accept")
    assert {:ok, 200, "hello " <> _} = Task.await(waiting, 10_000)
    assert {:ok, 200, "hello " <> _} = public(app, "GET", "/", 10_000)
    # Asked again, it says the same (the script may retry).
    assert {:ok, 200, "accepting\n"} = control(ctx.control, "POST", "/accept")
  end

  test "as an overlap instance it drains on SIGTERM: the request in flight is answered", ctx do
    app = start_hello(overlap: ctx.control)
    trigger = Task.async(fn -> public(app, "GET", "/", 20_000) end)
    assert {:ok, 200, _} = await_control(ctx.control, "GET", "/")
    assert {:ok, 200, "accepting\n"} = control(ctx.control, "POST", "/accept")
    assert {:ok, 200, _} = Task.await(trigger, 10_000)

    # In flight at SIGTERM by construction: hello has accepted it (not a sleep that
    # a loaded machine could outlast), and /hold is answered only once it stops.
    slow = Task.async(fn -> public(app, "GET", "/hold?ms=1500", 30_000) end)
    await_accepted(app, 1)
    {_, 0} = System.cmd("kill", ["-TERM", to_string(app.os_pid)])

    assert {:ok, 200, "hello " <> _} = Task.await(slow, 10_000)
    assert_receive {port, {:exit_status, 0}} when port == app.port, 10_000
  end

  test "GET /hold stays in flight until the instance begins to stop, then is answered", ctx do
    app = start_hello(overlap: ctx.control)
    _trigger = Task.async(fn -> public(app, "GET", "/", 20_000) end)
    assert {:ok, 200, _} = await_control(ctx.control, "GET", "/")
    assert {:ok, 200, "accepting\n"} = control(ctx.control, "POST", "/accept")

    hold = Task.async(fn -> public(app, "GET", "/hold?ms=200", 30_000) end)
    # Not answered while the instance runs (a plain /slow would be by now)...
    Process.sleep(2_000)
    assert Task.yield(hold, 0) == nil, "/hold was answered before the instance stopped"
    # ...and answered, by this process, once it stops.
    {_, 0} = System.cmd("kill", ["-TERM", to_string(app.os_pid)])
    assert {:ok, 200, body} = Task.await(hold, 10_000)
    assert body =~ "pid: #{app.os_pid}"
    assert_receive {port, {:exit_status, 0}} when port == app.port, 10_000
  end

  test "a release built with answer_500 answers its health check with 500", ctx do
    app =
      start_hello(
        overlap: ctx.control,
        eval: "Application.put_env(:hello, :answer_500, true)"
      )

    _trigger = Task.async(fn -> public(app, "GET", "/", 20_000) end)
    assert {:ok, 500, _} = await_control(ctx.control, "GET", "/")
  end

  # hello in a VM of its own under systemd-socket-activate on a free loopback port.
  defp start_hello(opts) do
    port = free_port()
    ebin = :code.lib_dir(:hello, :ebin) |> to_string()

    overlap =
      case opts[:overlap] do
        nil -> []
        path -> ["-E", "OVERLAP_CONTROL_SOCKET=#{path}", "-E", "OVERLAP_INSTANCE=a"]
      end

    boot =
      "#{opts[:eval]}; {:ok, _} = Application.ensure_all_started(:hello); Process.sleep(:infinity)"

    args =
      ["-l", "127.0.0.1:#{port}", "-E", "PATH", "-E", "HOME", "-E", "PORT=#{port}"] ++
        overlap ++ [System.find_executable("elixir"), "-pa", ebin, "-e", boot]

    exe =
      System.find_executable("systemd-socket-activate") ||
        flunk("systemd-socket-activate is missing")

    app_port =
      Port.open({:spawn_executable, exe}, [:binary, :exit_status, :stderr_to_stdout, args: args])

    {:os_pid, os_pid} = Port.info(app_port, :os_pid)
    on_exit(fn -> System.cmd("kill", ["-KILL", to_string(os_pid)], stderr_to_stdout: true) end)
    await_output(app_port, "Listening on")
    %{port: app_port, os_pid: os_pid, tcp_port: port}
  end

  defp await_output(port, text, seen \\ "") do
    receive do
      {^port, {:data, data}} ->
        seen = seen <> data
        if String.contains?(seen, text), do: :ok, else: await_output(port, text, seen)

      {^port, {:exit_status, status}} ->
        flunk("systemd-socket-activate exited with #{status}: #{seen}")
    after
      10_000 -> flunk("no #{inspect(text)} from systemd-socket-activate: #{seen}")
    end
  end

  # Waits (at most 10 s) until hello holds `count` connections accepted on its
  # public port: ss names the process of each (one still in the backlog has none).
  defp await_accepted(app, count, tries \\ 100) do
    {out, 0} = System.cmd("ss", ["-Htnp", "state", "established", "( sport = :#{app.tcp_port} )"])

    held = out |> String.split("\n") |> Enum.count(&(&1 =~ "pid=#{app.os_pid},"))

    cond do
      held >= count ->
        :ok

      tries > 0 ->
        Process.sleep(100)
        await_accepted(app, count, tries - 1)

      true ->
        flunk("hello holds #{held} of #{count} connections on port #{app.tcp_port}: #{out}")
    end
  end

  defp free_port do
    {:ok, socket} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(socket)
    :gen_tcp.close(socket)
    port
  end

  defp public(app, method, path, timeout),
    do: request({{127, 0, 0, 1}, app.tcp_port}, method, path, timeout)

  defp control(path, method, target), do: request({{:local, path}, 0}, method, target, 10_000)

  # The control socket appears once hello has booted.
  defp await_control(path, method, target, deadline \\ nil) do
    deadline = deadline || System.monotonic_time(:millisecond) + 20_000

    case control(path, method, target) do
      {:ok, _, _} = answer ->
        answer

      {:error, _} = error ->
        if System.monotonic_time(:millisecond) > deadline,
          do: error,
          else: retry(path, method, target, deadline)
    end
  end

  defp retry(path, method, target, deadline) do
    Process.sleep(100)
    await_control(path, method, target, deadline)
  end

  # One HTTP/1.1 request; the server closes the connection after its answer.
  defp request({address, port}, method, path, timeout) do
    with {:ok, socket} <- :gen_tcp.connect(address, port, [:binary, active: false], timeout),
         :ok <- :gen_tcp.send(socket, "#{method} #{path} HTTP/1.1\r\nHost: hello\r\n\r\n"),
         {:ok, answer} <- recv_all(socket, "", timeout) do
      [head, body] = String.split(answer, "\r\n\r\n", parts: 2)
      ["HTTP/1.1", status | _] = String.split(head, " ")
      {:ok, String.to_integer(status), body}
    end
  end

  defp recv_all(socket, acc, timeout) do
    case :gen_tcp.recv(socket, 0, timeout) do
      {:ok, data} -> recv_all(socket, acc <> data, timeout)
      {:error, :closed} -> {:ok, acc}
      {:error, reason} -> {:error, reason}
    end
  end
end
