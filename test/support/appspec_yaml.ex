defmodule MixDeploy.AppspecYaml do
  @moduledoc """
  Reads the block-style YAML subset that the generated appspec.yml uses: nested
  mappings, sequences of mappings (`- key: value`), comments on lines of their own,
  and plain, single-quoted or double-quoted scalars. Anything else raises, so a
  template that starts writing other YAML fails the tests instead of being read
  wrongly. Used by the appspec tests and by the end-to-end test's deployment
  agent (test/e2e/agent), which loads this file on its own.

  Mappings come back as lists of `{key, value}` in document order; plain scalars
  that look like integers or decimals come back as numbers, everything else as
  strings.
  """

  @doc "Parses the text; raises ArgumentError naming the line it cannot read."
  def parse!(text) do
    lines =
      text
      |> String.split("\n")
      |> Enum.with_index(1)
      |> Enum.reject(fn {line, _} -> String.trim(line) == "" or comment?(line) end)
      |> Enum.map(fn {line, n} -> {indent(line), String.trim_leading(line), n} end)

    case block(lines, 0) do
      {value, []} -> value
      {_, [{_, _, n} | _]} -> raise ArgumentError, "line #{n}: unexpected indentation"
    end
  end

  @doc "The value at a path of keys and indexes, or nil."
  def get(doc, []), do: doc

  def get(doc, [key | rest]) when is_binary(key) and is_list(doc) do
    case List.keyfind(doc, key, 0) do
      {^key, value} -> get(value, rest)
      nil -> nil
    end
  end

  def get(doc, [i | rest]) when is_integer(i) and is_list(doc), do: get(Enum.at(doc, i), rest)
  def get(_, _), do: nil

  @doc """
  The document as flat `path = type:value` lines in document order, e.g.
  `hooks.ApplicationStop.0.timeout = int:300`: a form both this reader and
  another YAML library can print, to compare the two.
  """
  def flatten(doc), do: flatten(doc, [])

  defp flatten(list, path) when is_list(list) do
    if Enum.all?(list, &match?({_, _}, &1)) and list != [] do
      Enum.flat_map(list, fn {k, v} -> flatten(v, path ++ [k]) end)
    else
      list |> Enum.with_index() |> Enum.flat_map(fn {v, i} -> flatten(v, path ++ [i]) end)
    end
  end

  defp flatten(value, path), do: ["#{Enum.join(path, ".")} = #{scalar_text(value)}"]

  defp scalar_text(v) when is_float(v), do: "float:" <> :erlang.float_to_binary(v, [:short])
  defp scalar_text(v) when is_integer(v), do: "int:#{v}"
  defp scalar_text(nil), do: "null:"
  defp scalar_text(v) when is_binary(v), do: "str:" <> v

  defp comment?(line), do: String.starts_with?(String.trim_leading(line), "#")

  defp indent(line), do: byte_size(line) - byte_size(String.trim_leading(line, " "))

  # A block at indentation `n`: a sequence when its first line starts with "- ".
  defp block([{n, "- " <> _, _} | _] = lines, n), do: sequence(lines, n, [])
  defp block([{n, _, _} | _] = lines, n), do: mapping(lines, n, [])
  defp block([{_, _, line} | _], _), do: raise(ArgumentError, "line #{line}: bad indentation")
  defp block([], _), do: {[], []}

  defp sequence([{n, "- " <> item, line} | rest], n, acc) do
    # "- key: value" opens a mapping whose further keys sit where "key" is.
    inner = n + 2
    {value, rest} = mapping([{inner, item, line} | rest], inner, [])
    sequence(rest, n, [value | acc])
  end

  defp sequence(lines, _n, acc), do: {Enum.reverse(acc), lines}

  defp mapping([{n, text, line} | rest], n, acc) do
    if String.starts_with?(text, "- "),
      do: raise(ArgumentError, "line #{line}: unexpected list item")

    {key, value_text} = split_entry(text, line)

    if List.keymember?(acc, key, 0),
      do: raise(ArgumentError, "line #{line}: duplicate key #{key}")

    case {value_text, rest} do
      {"", [{m, _, _} | _]} when m > n ->
        {value, rest} = block(rest, m)
        mapping(rest, n, [{key, value} | acc])

      {"", [{n, "- " <> _, _} | _]} ->
        # A sequence may sit at its key's own indentation.
        {value, rest} = sequence(rest, n, [])
        mapping(rest, n, [{key, value} | acc])

      {"", _} ->
        mapping(rest, n, [{key, nil} | acc])

      _ ->
        mapping(rest, n, [{key, scalar(value_text, line)} | acc])
    end
  end

  defp mapping(lines, _n, acc), do: {Enum.reverse(acc), lines}

  defp split_entry(text, line) do
    case Regex.run(~r/^([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$/, text) do
      [_, key] -> {key, ""}
      [_, key, value] -> {key, String.trim(value)}
      nil -> raise ArgumentError, "line #{line}: not a key: value entry: #{text}"
    end
  end

  defp scalar("'" <> rest, line) do
    if String.ends_with?(rest, "'") do
      body = String.slice(rest, 0..-2//1)

      if String.replace(body, "''", "") =~ "'",
        do: raise(ArgumentError, "line #{line}: bad single-quoted scalar")

      String.replace(body, "''", "'")
    else
      raise ArgumentError, "line #{line}: unterminated single-quoted scalar"
    end
  end

  defp scalar("\"" <> rest, line) do
    unless String.ends_with?(rest, "\"") and rest != "",
      do: raise(ArgumentError, "line #{line}: unterminated double-quoted scalar")

    unescape(String.slice(rest, 0..-2//1), line, "")
  end

  defp scalar(text, line) do
    cond do
      text =~ ~r/^-?\d+$/ ->
        String.to_integer(text)

      text =~ ~r/^-?\d+\.\d+$/ ->
        String.to_float(text)

      text =~ ~r/^[A-Za-z_\/][A-Za-z0-9_.\/@+-]*$/ ->
        text

      true ->
        raise ArgumentError, "line #{line}: a plain scalar this reader does not take: #{text}"
    end
  end

  @escapes %{
    "n" => "\n",
    "t" => "\t",
    "r" => "\r",
    "\"" => "\"",
    "\\" => "\\",
    "/" => "/",
    "b" => "\b",
    "f" => "\f"
  }

  defp unescape("", _line, acc), do: acc

  defp unescape("\\u" <> <<hex::binary-size(4), rest::binary>>, line, acc),
    do: unescape(rest, line, acc <> <<String.to_integer(hex, 16)::utf8>>)

  defp unescape("\\" <> <<c::binary-size(1), rest::binary>>, line, acc) do
    case @escapes do
      %{^c => s} -> unescape(rest, line, acc <> s)
      _ -> raise ArgumentError, "line #{line}: unknown escape \\#{c}"
    end
  end

  defp unescape("\"" <> _, line, _), do: raise(ArgumentError, "line #{line}: stray \" in scalar")

  defp unescape(<<c::utf8, rest::binary>>, line, acc),
    do: unescape(rest, line, acc <> <<c::utf8>>)
end
