defmodule MixDeploy.MixProject do
  use Mix.Project

  @version "0.1.0"

  def project do
    register_systemd_namespace()

    [
      app: :mix_deploy,
      version: @version,
      elixir: "~> 1.14",
      start_permanent: false,
      deps: [],
      elixirc_paths: elixirc_paths(Mix.env()),
      description: "Generate systemd units and deploy scripts for Elixir releases (Rust core)",
      package: [
        licenses: ["Apache-2.0"],
        files:
          ~w(lib native priv/templates Cargo.toml Cargo.lock .cargo mix.exs README.md checksum-libmix_deploy_nif.txt)
      ],
      test_coverage: [ignore_modules: []],
      # Used only while compiling (installing the NIF), never at run time.
      xref: [exclude: [:crypto, :httpc, :public_key]]
    ]
  end

  # `config :mix_systemd, ...` (the systemd tasks' namespace) names an application
  # that does not exist as a package. Registering an empty one when Mix reads this
  # file keeps Mix from warning that it is unavailable; it is never started and
  # never part of a release.
  defp register_systemd_namespace do
    spec = [
      description: ~c"mix_deploy's systemd config namespace",
      vsn: ~c"#{@version}",
      modules: [],
      registered: [],
      applications: [:kernel, :stdlib]
    ]

    case :application.load({:application, :mix_systemd, spec}) do
      :ok -> :ok
      {:error, {:already_loaded, :mix_systemd}} -> :ok
      {:error, _} -> :ok
    end
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  def application do
    [extra_applications: [:logger]]
  end
end
