defmodule MixDeploy.JSON do
  @moduledoc false
  # Encodes Elixir terms into the tagged JSON shape the core reads (docs/json.md):
  # nil, booleans, numbers, strings and lists as plain JSON; atoms as
  # {"atom": "name"}, tuples as {"tuple": [...]}, maps as {"map": [[k, v], ...]}.
  # Elixir 1.14 has no JSON module and hex is not a dependency, hence this encoder.

  @doc "Encodes a term to a JSON string (iodata flattened)."
  def encode(term), do: term |> encode_iodata() |> IO.iodata_to_binary()

  @doc "Encodes a plain map with string/atom keys as a JSON object (the document envelope)."
  def object(map) when is_map(map) do
    pairs =
      map
      |> Enum.sort_by(fn {k, _} -> to_string(k) end)
      |> Enum.map(fn {k, v} -> [string(to_string(k)), ?:, v] end)
      |> Enum.intersperse(?,)

    [?{, pairs, ?}]
  end

  def encode_iodata(nil), do: "null"
  def encode_iodata(true), do: "true"
  def encode_iodata(false), do: "false"
  def encode_iodata(atom) when is_atom(atom), do: ["{\"atom\":", string(Atom.to_string(atom)), ?}]
  def encode_iodata(int) when is_integer(int), do: Integer.to_string(int)
  def encode_iodata(float) when is_float(float), do: :erlang.float_to_binary(float, [:short])
  def encode_iodata(bin) when is_binary(bin), do: string(bin)

  def encode_iodata(list) when is_list(list),
    do: [?[, list |> Enum.map(&encode_iodata/1) |> Enum.intersperse(?,), ?]]

  def encode_iodata(tuple) when is_tuple(tuple) do
    items = tuple |> Tuple.to_list() |> Enum.map(&encode_iodata/1) |> Enum.intersperse(?,)
    ["{\"tuple\":[", items, "]}"]
  end

  def encode_iodata(map) when is_map(map) do
    pairs =
      map
      |> Map.delete(:__struct__)
      |> Enum.sort()
      |> Enum.map(fn {k, v} -> [?[, encode_iodata(k), ?,, encode_iodata(v), ?]] end)
      |> Enum.intersperse(?,)

    ["{\"map\":[", pairs, "]}"]
  end

  def encode_iodata(other), do: string(inspect(other))

  # The bytes a JSON string literal escapes.
  @escaped Enum.map([?", ?\\ | Enum.to_list(0..0x1F)], &<<&1>>)

  @doc "A JSON string literal."
  def string(bin) when is_binary(bin) do
    cond do
      # Both checks run in C: most config strings need no escape at all.
      not is_binary(:unicode.characters_to_binary(bin)) -> string(inspect(bin))
      :binary.match(bin, escaped_pattern()) == :nomatch -> [?", bin, ?"]
      true -> [?", escape(bin, ""), ?"]
    end
  end

  # The compiled pattern of @escaped, made once per VM.
  defp escaped_pattern do
    with nil <- :persistent_term.get({__MODULE__, :escaped}, nil) do
      pattern = :binary.compile_pattern(@escaped)
      :persistent_term.put({__MODULE__, :escaped}, pattern)
      pattern
    end
  end

  defp escape(<<>>, acc), do: acc
  defp escape(<<?", rest::binary>>, acc), do: escape(rest, <<acc::binary, "\\\"">>)
  defp escape(<<?\\, rest::binary>>, acc), do: escape(rest, <<acc::binary, "\\\\">>)
  defp escape(<<?\n, rest::binary>>, acc), do: escape(rest, <<acc::binary, "\\n">>)
  defp escape(<<?\r, rest::binary>>, acc), do: escape(rest, <<acc::binary, "\\r">>)
  defp escape(<<?\t, rest::binary>>, acc), do: escape(rest, <<acc::binary, "\\t">>)

  defp escape(<<c, rest::binary>>, acc) when c < 0x20 do
    hex = c |> Integer.to_string(16) |> String.pad_leading(4, "0")
    escape(rest, <<acc::binary, "\\u", hex::binary>>)
  end

  defp escape(<<c, rest::binary>>, acc), do: escape(rest, <<acc::binary, c>>)
end
