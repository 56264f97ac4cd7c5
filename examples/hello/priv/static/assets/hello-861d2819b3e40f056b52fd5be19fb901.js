// hello's script: a digested asset, as mix phx.digest names them.
console.log("hello 0.1.0");
