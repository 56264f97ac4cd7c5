defmodule Hello.Server do
  @moduledoc """
  A minimal HTTP/1.1 server on `:gen_tcp`: `GET /` answers with the app's
  version, the `GREETING` from its environment and its OS pid, `GET /slow?ms=N` does so
  after N milliseconds and `GET /hold?ms=N` N milliseconds after this instance begins
  to stop (at most five minutes later: for shutdown tests), `GET /assets/NAME` answers with the
  file NAME of the release's `priv/static/assets` (as Phoenix serves digested
  assets: `mix deploy`'s `bridge_assets` keeps old ones); anything else is a 404. Each
  connection is served by its own process and closed after one response.

  Under systemd socket activation (the unit's `listen_stream`), it serves the
  socket systemd passes as file descriptor 3 (`LISTEN_FDS`, `LISTEN_PID`), so
  the port stays open while the service restarts. Otherwise it binds
  127.0.0.1:`PORT` itself.

  As an overlap instance (`Hello.Overlap`) two of these run: the control
  listener (`control: path`) serves the same routes on a private unix socket,
  plus `POST /accept`; the public one (`await_accept: true`) takes fd 3 only
  after that request.
  """

  use Task, restart: :permanent, shutdown: 5_000
  require Logger

  # The first file descriptor systemd passes (SD_LISTEN_FDS_START).
  @listen_fds_start 3

  # :gen_tcp.listen/2 with {:fd, n} calls listen() on the socket again, with
  # backlog 5 unless told otherwise: that would replace systemd's Backlog= and
  # drop connections that arrive in a burst (during a restart). mix_deploy's
  # listen_backlog default; the kernel caps it at net.core.somaxconn.
  @backlog 4096

  def start_link(opts) do
    Task.start_link(__MODULE__, :listen, [opts])
  end

  @doc false
  def listen(opts) do
    # Exits from the supervisor arrive as messages, checked between accepts: a
    # connection accepted when shutdown begins is still handed to its process.
    Process.flag(:trap_exit, true)
    from = if opts[:await_accept], do: Hello.Overlap.await_accept()
    {:ok, socket, where} = open(opts)
    Logger.info("hello #{version()} listening on #{where}")
    if opts[:await_accept], do: Hello.Overlap.accepting(from)
    accept(socket, opts[:connections], opts[:control] != nil)
  end

  @doc """
  The listening socket: the control socket, fd 3 for an overlap instance,
  systemd's when it passed one, else a bound port.
  """
  def open(opts) do
    options = [:binary, packet: :http_bin, active: false]

    cond do
      path = opts[:control] ->
        # A socket file left by a crash would make the listen fail (eaddrinuse).
        _ = File.rm(path)
        {:ok, socket} = :gen_tcp.listen(0, [:local, ifaddr: {:local, path}] ++ options)
        {:ok, socket, "control socket #{path}"}

      opts[:await_accept] ->
        open_fd(@listen_fds_start, options)

      fd = systemd_fd() ->
        open_fd(fd, options)

      true ->
        port = opts[:port]
        {:ok, socket} = :gen_tcp.listen(port, [reuseaddr: true, ip: {127, 0, 0, 1}] ++ options)
        {:ok, socket, "127.0.0.1:#{port}"}
    end
  end

  defp open_fd(fd, options) do
    # Port 0 and no :ip: the socket is bound already. The inet backend
    # needs :inet6 for an IPv6 socket (else einval), so try both families.
    options = [{:fd, fd}, {:backlog, @backlog} | options]

    with {:error, :einval} <- :gen_tcp.listen(0, options) do
      :gen_tcp.listen(0, [:inet6 | options])
    end
    |> case do
      {:ok, socket} ->
        {:ok, socket, "fd #{fd} from systemd (#{sockname(socket)})"}

      {:error, reason} ->
        raise "cannot use the socket systemd passed as fd #{fd}: #{inspect(reason)}"
    end
  end

  # sd_listen_fds(3): the sockets are ours only when LISTEN_PID is this process.
  defp systemd_fd do
    with pid when is_binary(pid) <- System.get_env("LISTEN_PID"),
         true <- pid == List.to_string(:os.getpid()),
         {fds, ""} when fds >= 1 <- Integer.parse(System.get_env("LISTEN_FDS", "")) do
      @listen_fds_start
    else
      _ -> nil
    end
  end

  defp sockname(socket) do
    case :inet.sockname(socket) do
      {:ok, {ip, port}} -> "#{:inet.ntoa(ip)}:#{port}"
      _ -> "address unknown"
    end
  end

  defp accept(socket, connections, control) do
    receive do
      {:EXIT, _from, reason} ->
        :gen_tcp.close(socket)
        exit(reason)

      # POST /accept again: this listener accepts already.
      {:accept, from} ->
        Hello.Overlap.reply(from)
    after
      0 -> :ok
    end

    case :gen_tcp.accept(socket, 100) do
      {:ok, client} ->
        {:ok, pid} = Task.Supervisor.start_child(connections, fn -> serve(client, control) end)
        :ok = :gen_tcp.controlling_process(client, pid)
        send(pid, :go)

      {:error, :timeout} ->
        :ok
    end

    accept(socket, connections, control)
  end

  defp serve(client, control) do
    receive do
      :go -> :ok
    end

    # A release built with `config :hello, answer_500: true` boots but answers
    # every request with HTTP 500: the release that must fail its health check.
    answer_500 = Application.get_env(:hello, :answer_500, false)

    reply =
      case read_request(client) do
        {:ok, :POST, "/accept"} when control ->
          accept_reply()

        {:ok, _method, _path} when answer_500 ->
          response(500, "Internal Server Error", "answer_500 is set\n")

        {:ok, :GET, "/"} ->
          response(200, "OK", body())

        {:ok, :GET, "/slow?" <> query} ->
          ms = query |> URI.decode_query() |> Map.get("ms", "1000") |> String.to_integer()
          Process.sleep(ms)
          response(200, "OK", body())

        {:ok, :GET, "/hold?" <> query} ->
          ms = query |> URI.decode_query() |> Map.get("ms", "500") |> String.to_integer()
          Hello.Drainer.await_stopping(300_000)
          Process.sleep(ms)
          response(200, "OK", body())

        {:ok, :GET, "/assets/" <> name} ->
          asset(name)

        {:ok, _method, _path} ->
          response(404, "Not Found", "not found\n")

        :error ->
          response(400, "Bad Request", "bad request\n")
      end

    :gen_tcp.send(client, reply)
    :gen_tcp.close(client)
  end

  defp accept_reply do
    case Hello.Overlap.accept() do
      :ok ->
        response(200, "OK", "accepting\n")

      {:error, reason} ->
        response(503, "Service Unavailable", "not accepting: #{inspect(reason)}\n")
    end
  end

  defp read_request(client) do
    with {:ok, {:http_request, method, {:abs_path, path}, _}} <- :gen_tcp.recv(client, 0, 5000),
         :ok <- skip_headers(client) do
      {:ok, method, path}
    else
      _ -> :error
    end
  end

  defp skip_headers(client) do
    case :gen_tcp.recv(client, 0, 5000) do
      {:ok, {:http_header, _, _, _, _}} -> skip_headers(client)
      {:ok, :http_eoh} -> :ok
      _ -> :error
    end
  end

  # The OS pid tells the tests which process answered (the old one or the new).
  defp body do
    greeting = System.get_env("GREETING", "(GREETING is not set)")
    "hello #{version()}\ngreeting: #{greeting}\npid: #{:os.getpid()}\n"
  end

  # A file of priv/static/assets by its plain name (no path, no dot first).
  defp asset(name) do
    path = Path.join([Application.app_dir(:hello, "priv"), "static", "assets", name])

    with true <- name =~ ~r/\A[A-Za-z0-9_][A-Za-z0-9._-]*\z/,
         {:ok, text} <- File.read(path) do
      response(200, "OK", text)
    else
      _ -> response(404, "Not Found", "not found\n")
    end
  end

  defp version, do: :hello |> Application.spec(:vsn) |> to_string()

  defp response(status, reason, body) do
    [
      "HTTP/1.1 #{status} #{reason}\r\n",
      "Content-Type: text/plain; charset=utf-8\r\n",
      "Content-Length: #{byte_size(body)}\r\n",
      "Connection: close\r\n",
      "\r\n",
      body
    ]
  end
end
