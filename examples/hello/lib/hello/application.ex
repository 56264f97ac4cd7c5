defmodule Hello.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    port = String.to_integer(System.get_env("PORT", "8080"))
    children = [{Hello.Server, port: port}]
    Supervisor.start_link(children, strategy: :one_for_one, name: Hello.Supervisor)
  end
end
