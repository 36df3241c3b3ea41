with builtins; [ (splitVersion "1.2.3") (splitVersion "1.2.3pre4-alpha_5..6") (splitVersion "") (splitVersion "..-") (splitVersion "abc") (splitVersion "2024-01-02") (splitVersion "1é2") ]
