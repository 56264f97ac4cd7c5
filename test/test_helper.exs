# A NIF that fails to load makes every test meaningless: stop at once, loudly.
case Code.ensure_loaded(MixDeploy.Native) do
  {:module, _} ->
    try do
      MixDeploy.Native.resolve("{}", :deploy)
    rescue
      e in ErlangError ->
        IO.puts(:stderr, "mix_deploy NIF is not loaded: #{Exception.message(e)}")
        System.halt(1)
    end

  {:error, reason} ->
    IO.puts(:stderr, "MixDeploy.Native failed to load: #{inspect(reason)}")
    System.halt(1)
end

ExUnit.start()
