builtins.splitVersion ./.
