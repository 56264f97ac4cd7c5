# A NIF that fails to load makes every test meaningless: stop at once, loudly.
try do
  # Any answer from the library (even an error about the empty document) means it is loaded.
  {_, _} = MixDeploy.Native.resolve("{}", :deploy)
rescue
  e ->
    IO.puts(:stderr, "mix_deploy NIF is not loaded: #{Exception.message(e)}")
    System.halt(1)
end

ExUnit.start()
