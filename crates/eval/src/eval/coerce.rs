//! Coercion of values to strings (interpolation, path segments, `toString`).

use super::errors::{list_element_error, path_missing, to_string_result_error};
use super::{dummy_span, Eval};
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::span::Span;
use crate::value::{Attrs, ContextElem, List, Value};

impl<'a> Eval<'a> {
    /// Coerces a forced value to a string, appending to `bytes` and `context`.
    pub fn coerce_to_string_into(
        &mut self,
        v: Value<'a>,
        span: Span,
        mode: CoerceMode,
        bytes: &mut Vec<u8>,
        context: &mut Vec<ContextElem<'a>>,
    ) -> EvalResult<()> {
        let v = self.force(v)?;
        match v {
            Value::String(s) => {
                bytes.extend_from_slice(s.bytes);
                context.extend_from_slice(s.context);
            }
            Value::Path(p) => {
                if mode.copy_paths() {
                    let path = std::path::Path::new(std::ffi::OsStr::from_bytes_compat(p.bytes));
                    let name = p.bytes.rsplit(|&b| b == b'/').next().unwrap_or(b"");
                    let name = String::from_utf8_lossy(name).into_owned();
                    self.check_access(path)?;
                    // Nix reports these without a position.
                    if !self.io.path_exists(path) {
                        return Err(path_missing(path, dummy_span()));
                    }
                    let store_path = self.io.add_source(path, &name).map_err(|e| {
                        EvalError::new(
                            ErrorKind::Message(format!(
                                "copying path '{}' to the store: {e}",
                                path.display()
                            )),
                            None,
                        )
                    })?;
                    let sp = self.arena.alloc_slice_copy(store_path.as_bytes());
                    bytes.extend_from_slice(sp);
                    context.push(ContextElem::Opaque(sp));
                } else {
                    bytes.extend_from_slice(p.bytes);
                }
            }
            Value::Attrs(attrs) => {
                // `__toString` and `outPath` may lead to more of the same, forever.
                self.enter_nested()?;
                let res = self.coerce_attrs_into(v, attrs, span, mode, bytes, context);
                self.eval_depth -= 1;
                return res;
            }
            Value::Int(n) if mode.more() => push_int(bytes, n),
            Value::Float(f) if mode.more() => bytes.extend_from_slice(format!("{f:.6}").as_bytes()),
            Value::Bool(true) if mode.more() => bytes.push(b'1'),
            Value::Bool(false) | Value::Null if mode.more() => {}
            Value::List(l) if mode.more() => {
                self.enter_nested()?;
                let res = self.coerce_list_into(l, span, mode, bytes, context);
                self.eval_depth -= 1;
                res?;
            }
            _ => return Err(self.cannot_coerce(v, span)),
        }
        Ok(())
    }

    /// The string of a set: its `__toString` applied to it, or its `outPath`.
    pub(super) fn coerce_attrs_into(
        &mut self,
        v: Value<'a>,
        attrs: &'a Attrs<'a>,
        span: Span,
        mode: CoerceMode,
        bytes: &mut Vec<u8>,
        context: &mut Vec<ContextElem<'a>>,
    ) -> EvalResult<()> {
        if let Some(f) = attrs.get(self.syms.to_string) {
            let f = self.force(f.value)?;
            let res = self.call(f, v, Some(span))?;
            return self
                .coerce_to_string_into(res, span, mode, bytes, context)
                .map_err(|e| to_string_result_error(e, span));
        }
        if let Some(out) = attrs.get(self.syms.out_path) {
            return self.coerce_to_string_into(out.value, span, mode, bytes, context);
        }
        Err(self.cannot_coerce(v, span))
    }

    /// The string of a list (`toString`): its elements', separated by spaces.
    pub(super) fn coerce_list_into(
        &mut self,
        l: &'a List<'a>,
        span: Span,
        mode: CoerceMode,
        bytes: &mut Vec<u8>,
        context: &mut Vec<ContextElem<'a>>,
    ) -> EvalResult<()> {
        for (i, e) in l.elems.iter().enumerate() {
            let e = self.force(*e)?;
            self.coerce_to_string_into(e, span, mode, bytes, context)
                .map_err(|err| list_element_error(err, e))?;
            // Nix separates elements with a space but skips it after empty lists.
            let empty_list = matches!(e, Value::List(l) if l.elems.is_empty());
            if i + 1 < l.elems.len() && !empty_list {
                bytes.push(b' ');
            }
        }
        Ok(())
    }

    pub(super) fn cannot_coerce(&self, v: Value<'a>, span: Span) -> Box<EvalError> {
        EvalError::msg(
            format!(
                "cannot coerce {} to a string: {}",
                v.type_phrase(),
                crate::print::brief(self, v)
            ),
            span,
        )
    }

    /// Coerces a value to a string value.
    pub fn coerce_to_string(
        &mut self,
        v: Value<'a>,
        span: Span,
        mode: CoerceMode,
    ) -> EvalResult<Value<'a>> {
        match v {
            Value::String(_) => return Ok(v),
            Value::Int(n) if mode.more() => {
                let mut digits = [0u8; 20];
                return Ok(self.new_str(int_digits(n, &mut digits)));
            }
            _ => {}
        }
        // The shared scratch buffer, as for interpolation; a nested coercion (inside a
        // `__toString`) finds it taken and makes its own.
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        let mut context = Vec::new();
        let res = self.coerce_to_string_into(v, span, mode, &mut bytes, &mut context);
        let v = res.map(|()| {
            context.sort();
            context.dedup();
            self.new_string(&bytes, &context)
        });
        self.scratch = bytes;
        v
    }
}

/// "00" to "99", for writing integers two digits at a time.
pub(super) const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// The decimal digits of `n`, written at the end of `buf`.
pub(super) fn int_digits(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    while m >= 100 {
        let r = (m % 100) as usize;
        m /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[2 * r..2 * r + 2]);
    }
    if m >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[2 * m as usize..2 * m as usize + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + m as u8;
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Appends the decimal form of `n`.
pub(super) fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(int_digits(n, &mut buf));
}

/// How a value may be turned into a string.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CoerceMode {
    /// `"${x}"`: strings, paths (copied to the store), sets with `__toString`/`outPath`.
    Interpolation,
    /// A piece of an interpolated path: like interpolation, but paths are not copied.
    PathSegment,
    /// `toString`: also numbers, Booleans, null and lists; paths are not copied.
    ToString,
}

impl CoerceMode {
    fn copy_paths(self) -> bool {
        self == CoerceMode::Interpolation
    }

    fn more(self) -> bool {
        self == CoerceMode::ToString
    }
}

/// Converts bytes to an `OsStr` (Unix).
pub(super) trait OsStrCompat {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr;
}

impl OsStrCompat for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
}
