with builtins; [ (replaceStrings ["é"] ["e"] "café") (replaceStrings ["日"] ["月"] "日本日") ]
