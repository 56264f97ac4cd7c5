defmodule Hello.Server do
  @moduledoc """
  A minimal HTTP/1.1 server on `:gen_tcp`: `GET /` answers with the app's
  version and the `GREETING` from its environment; anything else is a 404.
  Each connection is served by its own process and closed after one response.
  """

  use Task, restart: :permanent
  require Logger

  def start_link(opts), do: Task.start_link(__MODULE__, :listen, [opts[:port]])

  @doc false
  def listen(port) do
    {:ok, socket} =
      :gen_tcp.listen(port, [
        :binary,
        packet: :http_bin,
        active: false,
        reuseaddr: true,
        ip: {127, 0, 0, 1}
      ])

    Logger.info("hello #{version()} listening on 127.0.0.1:#{port}")
    accept(socket)
  end

  defp accept(socket) do
    {:ok, client} = :gen_tcp.accept(socket)
    pid = spawn(fn -> serve(client) end)
    :ok = :gen_tcp.controlling_process(client, pid)
    accept(socket)
  end

  defp serve(client) do
    reply =
      case read_request(client) do
        {:ok, :GET, "/"} -> response(200, "OK", body())
        {:ok, _method, _path} -> response(404, "Not Found", "not found\n")
        :error -> response(400, "Bad Request", "bad request\n")
      end

    :gen_tcp.send(client, reply)
    :gen_tcp.close(client)
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

  defp body do
    greeting = System.get_env("GREETING", "(GREETING is not set)")
    "hello #{version()}\ngreeting: #{greeting}\n"
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
