defmodule MixDeploy.Requires do
  @moduledoc """
  What a test module needs of the machine (root, systemd, a tool), decided when
  the module compiles. Outside CI a missing need skips or narrows the tests that
  have it, with a banner saying so. Under CI (`CI` set and not empty, as `.ci/run`
  sets it) nothing skips: the test file does not load, and `mix test` fails
  naming what is missing.
  """

  @doc "Whether CI is set (not empty), as the shell tests read it."
  def ci?, do: System.get_env("CI", "") != ""

  @doc "Whether the tests run as root."
  def root?, do: System.cmd("id", ["-u"]) |> elem(0) |> String.trim() == "0"

  @doc """
  `false` when `reason` is nil (nothing is missing). Otherwise, outside CI,
  prints a banner saying that `what` does not run, and returns `reason` (for a
  skip tag); under CI, raises.
  """
  def missing(_module, nil, _what), do: false

  def missing(module, reason, what) do
    if ci?() do
      raise "#{inspect(module)}: #{reason}, so #{what} cannot run. " <>
              "CI is set: this is a failure, not a skip."
    end

    IO.puts(:stderr, """

    ************************************************************************
    * #{inspect(module)}: #{reason}.
    * SKIPPED: #{what}.
    * (Outside CI this is a skip; with CI set it fails.)
    ************************************************************************
    """)

    reason
  end

  @doc "`missing/3` for tests that need root; `why` says what they do as root."
  def unless_root(module, why, what) do
    missing(module, if(root?(), do: nil, else: "needs root (#{why})"), what)
  end
end
