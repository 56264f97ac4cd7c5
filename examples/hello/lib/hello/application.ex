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

      # Started in this order and stopped in the reverse one: at shutdown the
      # listener stops accepting first, then the drainer waits for the requests
      # in flight, and only then are the connection processes stopped.
      children = [
        {Task.Supervisor, name: Hello.Connections},
        {Hello.Drainer, supervisor: Hello.Connections},
        {Hello.Server, port: port, connections: Hello.Connections}
      ]

      Supervisor.start_link(children, strategy: :rest_for_one, name: Hello.Supervisor)
    end
  end
end
