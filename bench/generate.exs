# In-VM timings of generation, run inside the benchmark project by script/bench:
#   mix run --no-start bench/generate.exs RUNS
# Prints one "name<TAB>median_us<TAB>min_us" line per measurement.
[runs] = System.argv() |> Enum.map(&String.to_integer/1) |> then(&(&1 ++ [50])) |> Enum.take(1)

Mix.shell(Mix.Shell.Quiet)

deploy_json = MixDeploy.Task.input(:mix_deploy)
systemd_json = MixDeploy.Task.input(:mix_systemd)

# The first render in this VM compiles every template it renders (a whole
# `mix deploy.generate` process pays it once): one sample, as the VM is fresh once.
{cold_us, {:ok, _}} = :timer.tc(fn -> MixDeploy.Native.render_only(deploy_json, :deploy) end)
IO.puts("render-only deploy, first call (compiles)\t#{cold_us}\t#{cold_us}")

measure = fn name, fun ->
  # Warm up: the first call builds the registry and brings files up to date.
  fun.()
  fun.()

  times =
    for _ <- 1..runs do
      {us, _} = :timer.tc(fun)
      us
    end

  sorted = Enum.sort(times)
  median = Enum.at(sorted, div(length(sorted), 2))
  IO.puts("#{name}\t#{median}\t#{hd(sorted)}")
end

measure.("deploy.generate", fn -> Mix.Task.rerun("deploy.generate") end)
measure.("systemd.generate", fn -> Mix.Task.rerun("systemd.generate") end)

measure.("render-only deploy", fn -> {:ok, _} = MixDeploy.Native.render_only(deploy_json, :deploy) end)
measure.("render-only systemd", fn -> {:ok, _} = MixDeploy.Native.render_only(systemd_json, :systemd) end)
