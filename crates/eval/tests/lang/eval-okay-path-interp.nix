let x = "b"; in [ ./a/${x} ./${x}/c ]
