defmodule Hello.Drainer do
  @moduledoc """
  Waits at shutdown until the connections in flight are served, so a request
  that arrived before SIGTERM gets its answer instead of a reset. It does
  nothing until then: it only traps exits, so that the supervisor calls
  `terminate/2` when the application stops.
  """

  use GenServer, shutdown: 15_000

  @timeout 10_000

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts[:supervisor])

  @doc """
  Returns once this instance has begun to stop (the drainer is waiting), or after
  `limit` milliseconds: how `GET /hold` keeps a request in flight across a stop.
  """
  def await_stopping(limit) when limit <= 0, do: :timeout

  def await_stopping(limit) do
    if :persistent_term.get({__MODULE__, :stopping}, false) do
      :ok
    else
      Process.sleep(20)
      await_stopping(limit - 20)
    end
  end

  @impl true
  def init(supervisor) do
    Process.flag(:trap_exit, true)
    {:ok, supervisor}
  end

  @impl true
  def terminate(_reason, supervisor) do
    :persistent_term.put({__MODULE__, :stopping}, true)
    deadline = System.monotonic_time(:millisecond) + @timeout
    wait(supervisor, deadline)
  end

  defp wait(supervisor, deadline) do
    case Task.Supervisor.children(supervisor) do
      [] ->
        :ok

      busy ->
        if System.monotonic_time(:millisecond) < deadline do
          Process.sleep(20)
          wait(supervisor, deadline)
        else
          require Logger
          Logger.warning("stopping with #{length(busy)} requests still in flight")
        end
    end
  end
end
