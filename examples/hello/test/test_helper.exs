# hello is started by each test as its own OS process (test/support_hello.exs), under
# systemd-socket-activate: the suite runs with --no-start (the alias in mix.exs), so
# the test VM binds no port.
ExUnit.start()
