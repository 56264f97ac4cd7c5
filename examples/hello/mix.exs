defmodule Hello.MixProject do
  use Mix.Project

  def project do
    [
      app: :hello,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      deps: deps(),
      releases: releases(),
      aliases: aliases(),
      preferred_cli_env: [deploy: :prod]
    ]
  end

  def application do
    [extra_applications: [:logger], mod: {Hello.Application, []}]
  end

  # The package under development, two directories up. MIX_DEPLOY_PATH points
  # elsewhere when this example is copied out of the checkout (as the end-to-end
  # test does).
  defp deps do
    [{:mix_deploy, path: System.get_env("MIX_DEPLOY_PATH", "../.."), runtime: false}]
  end

  # deploy-release extracts the tar that the :tar step writes.
  defp releases do
    [hello: [include_executables_for: [:unix], steps: [:assemble, :tar]]]
  end

  # `mix deploy`: build a release, then deploy and restart it on this machine.
  # `mix test`: the tests start hello in VMs of their own (test/overlap_test.exs).
  defp aliases do
    [
      test: "test --no-start",
      deploy: [
        "release --overwrite",
        "cmd sudo bin/deploy-release",
        "cmd sudo bin/deploy-restart"
      ]
    ]
  end
end
