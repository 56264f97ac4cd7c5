defmodule Hello.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    # A release built with `config :hello, crash_at_boot: true` fails at boot: the
    # end-to-end test deploys one to see deploy-restart roll it back.
    if Application.get_env(:hello, :crash_at_boot, false) do
      {:error, :crash_at_boot}
    else
      port = String.to_integer(System.get_env("PORT", "8080"))
      control = Hello.Overlap.control_socket()

      # Started in this order and stopped in the reverse one: at shutdown the
      # listeners stop accepting first, then the drainer waits for the requests
      # in flight, and only then are the connection processes stopped. An overlap
      # instance answers on its control socket only once all else has started.
      children =
        [
          {Task.Supervisor, name: Hello.Connections},
          {Hello.Drainer, supervisor: Hello.Connections},
          {Hello.Server, port: port, connections: Hello.Connections, await_accept: control != nil}
        ] ++ control_listener(control)

      Supervisor.start_link(children, strategy: :rest_for_one, name: Hello.Supervisor)
    end
  end

  defp control_listener(nil), do: []

  defp control_listener(path) do
    [
      Supervisor.child_spec({Hello.Server, control: path, connections: Hello.Connections},
        id: :control
      )
    ]
  end
end
