import Config

import_config "#{config_env()}.exs"
