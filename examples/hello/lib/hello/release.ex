defmodule Hello.Release do
  @moduledoc """
  Release tasks, run as `bin/hello eval "Hello.Release.migrate()"` (which is what
  `bin/deploy-migrate` does). hello has no database, so `migrate/0` only says
  which version and which OS user ran it.
  """

  def migrate do
    Application.load(:hello)
    {user, 0} = System.cmd("id", ["-un"])
    vsn = Application.spec(:hello, :vsn)
    IO.puts("hello #{vsn}: nothing to migrate (running as #{String.trim(user)})")
  end
end
