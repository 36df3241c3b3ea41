"${{ __toString = self: self; }}"
