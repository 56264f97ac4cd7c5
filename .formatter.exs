[
  inputs: [
    "{mix,.formatter}.exs",
    "{config,lib,test}/**/*.{ex,exs}",
    "examples/*/{mix,.formatter}.exs",
    "examples/*/{config,lib,test}/**/*.{ex,exs}"
  ]
]
