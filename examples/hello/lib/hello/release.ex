defmodule Hello.Release do
  @moduledoc """
  Release tasks, run as `bin/hello eval "Hello.Release.migrate()"` (which is what
  `bin/deploy-migrate` does, and `bin/deploy-release` with `migrate_on_deploy:
  true`, before it switches `current`). hello has no database: `migrate/0` is a
  stand-in that says what a migration would see. It prints who runs it, then
  prints and appends to `migrations.log` in `TMP_DIR` when the environment has
  one (the unit's, from `dirs: [:tmp]`: deploy-create-dirs makes it before the
  first start, unlike the state dir systemd makes at start), one line: the version, the OS user, `PORT` and `GREETING`
  (the unit's env_vars and env file), the release it runs from and the one
  `current` points to. With `config :hello, fail_migration: true` in the
  release's config it then fails (exit 1), as a migration that breaks does.
  """

  def migrate do
    Application.load(:hello)
    {user, 0} = System.cmd("id", ["-un"])
    vsn = Application.spec(:hello, :vsn)
    # The release runs from <deploy_dir>/releases/<name>; current is beside releases.
    root = :code.root_dir() |> to_string()
    current = root |> Path.dirname() |> Path.dirname() |> Path.join("current")

    line =
      Enum.join(
        [
          "hello #{vsn} migrate",
          "user=#{String.trim(user)}",
          "port=#{System.get_env("PORT")}",
          "greeting=#{inspect(System.get_env("GREETING"))}",
          "release=#{Path.basename(root)}",
          "current=#{current_release(current)}"
        ],
        " "
      )

    IO.puts("hello #{vsn}: nothing to migrate (running as #{String.trim(user)})")
    IO.puts(line)

    if dir = System.get_env("TMP_DIR") do
      File.write!(Path.join(dir, "migrations.log"), line <> "\n", [:append])
    end

    if Application.get_env(:hello, :fail_migration, false) do
      IO.puts(:stderr, "hello #{vsn}: the migration failed (fail_migration: true)")
      System.halt(1)
    end
  end

  defp current_release(link) do
    case File.read_link(link) do
      {:ok, target} -> Path.basename(target)
      {:error, _} -> "none"
    end
  end
end
