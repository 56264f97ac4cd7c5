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
      children = [{Hello.Server, port: port}]
      Supervisor.start_link(children, strategy: :one_for_one, name: Hello.Supervisor)
    end
  end
end
