defmodule Hello.Overlap do
  @moduledoc """
  hello's side of `restart_method: :overlap` (docs/systemd.md, "Overlap restarts:
  the app's side"). The unit of each instance sets

    * `OVERLAP_INSTANCE`: the instance, `a` or `b`;
    * `OVERLAP_CONTROL_SOCKET`: a unix socket path in the instance's own runtime
      directory, e.g. `/run/hello/a/control.sock`.

  With them set, hello answers its routes on that private socket at once, and
  takes the shared listening socket (fd 3) only when the deploy script sends
  `POST /accept` there. The answer, `200 accepting`, comes once the listener
  accepts on fd 3, so the script knows it may stop the old instance.

  The unit unsets `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`: an app that does
  not know this contract finds no systemd socket, never accepts on fd 3, and never
  answers on the control socket, so the script refuses it at its health check.
  """

  @doc "The control socket's path when running as an overlap instance, else nil."
  def control_socket, do: env("OVERLAP_CONTROL_SOCKET")

  @doc "The instance's name (`a`, `b`) when running as an overlap instance, else nil."
  def instance, do: env("OVERLAP_INSTANCE")

  defp env(name) do
    case System.get_env(name) do
      value when value in [nil, ""] -> nil
      value -> value
    end
  end

  @doc """
  Called by the public listener before it takes fd 3: returns at once when this
  VM was told to accept before (the listener restarted), else waits for
  `accept/1`. Exit signals (shutdown) end the wait.
  """
  def await_accept do
    Process.register(self(), __MODULE__)

    if :persistent_term.get({__MODULE__, :accepting}, false) do
      nil
    else
      receive do
        {:accept, from} -> from
        {:EXIT, _from, reason} -> exit(reason)
      end
    end
  end

  @doc "Called by the public listener once it accepts on fd 3: answers `accept/1`."
  def accepting(from) do
    :persistent_term.put({__MODULE__, :accepting}, true)
    reply(from)
  end

  @doc false
  def reply(nil), do: :ok
  def reply({pid, ref}), do: send(pid, {ref, :accepting})

  @doc """
  Tells the public listener to accept on fd 3 and waits until it does:
  `:ok`, or `{:error, reason}` when it does not within `timeout` ms.
  """
  def accept(timeout \\ 5_000) do
    case Process.whereis(__MODULE__) do
      nil ->
        {:error, :no_listener}

      pid ->
        ref = Process.monitor(pid)
        send(pid, {:accept, {self(), ref}})

        receive do
          {^ref, :accepting} ->
            Process.demonitor(ref, [:flush])
            :ok

          {:DOWN, ^ref, :process, _pid, reason} ->
            {:error, reason}
        after
          timeout ->
            Process.demonitor(ref, [:flush])
            {:error, :timeout}
        end
    end
  end
end
