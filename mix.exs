defmodule MixDeploy.MixProject do
  use Mix.Project

  @version "0.1.0"

  def project do
    [
      app: :mix_deploy,
      version: @version,
      elixir: "~> 1.14",
      start_permanent: false,
      deps: [],
      description: "Generate systemd units and deploy scripts for Elixir releases (Rust core)",
      package: [licenses: ["Apache-2.0"], files: ~w(lib native priv/templates Cargo.toml Cargo.lock mix.exs README.md)],
      test_coverage: [ignore_modules: []]
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end
end
