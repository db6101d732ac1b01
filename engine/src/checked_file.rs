//! Small metadata files (the CATALOG, partition MANIFESTs) that are replaced atomically and
//! checked on every read.
//!
//! Format: one header line, `<kind> 1 crc32=XXXXXXXX`, where the CRC-32 (IEEE, 8 lowercase
//! hex digits) covers everything after the newline: the body, JSON. A change writes the
//! whole file to `<name>.tmp`, fsyncs it, renames it over `<name>` and fsyncs the
//! directory, so after a crash the file is the old one or the new one, never a mix; a
//! leftover `.tmp` is removed when the file is read.

use crate::error::{Error, Result, io_error};
use dynastore_wal::fs::{self, FileSystem};
use std::path::Path;

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Corruption {
        file: path.to_path_buf(),
        offset: 0,
        reason: reason.into(),
    }
}

fn header_prefix(kind: &str) -> String {
    format!("{kind} 1 crc32=")
}

/// The body of `dir/name` after checking its header and checksum; `None` if the file does
/// not exist. Removes a leftover `name.tmp`.
///
/// Errors: [`Error::Corruption`], [`Error::Io`].
pub(crate) fn read(fs: &dyn FileSystem, dir: &Path, name: &str, kind: &str) -> Result<Option<String>> {
    let path = dir.join(name);
    fs::discard_unfinished_replacement(fs, &path)
        .map_err(io_error("discarding the unfinished replacement of", &path))?;
    if !fs.exists(&path).map_err(io_error("checking", &path))? {
        return Ok(None);
    }
    let bytes = fs::read_file(fs, &path).map_err(io_error("reading", &path))?;
    let text = String::from_utf8(bytes).map_err(|_| corrupt(&path, "not UTF-8"))?;
    let (header, body) = text.split_once('\n').ok_or_else(|| corrupt(&path, "no header line"))?;
    let crc = header
        .strip_prefix(&header_prefix(kind))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| corrupt(&path, format!("bad header line {header:?}")))?;
    if crc32fast::hash(body.as_bytes()) != crc {
        return Err(corrupt(&path, "checksum mismatch"));
    }
    Ok(Some(body.to_owned()))
}

/// Replaces `dir/name` with a file holding `body`, atomically and durably.
///
/// Errors: [`Error::Io`]; on error the old file is still in place, or the new one is if
/// the rename had already happened.
pub(crate) fn write(fs: &dyn FileSystem, dir: &Path, name: &str, kind: &str, body: &str) -> Result<()> {
    let text = format!(
        "{}{:08x}\n{body}",
        header_prefix(kind),
        crc32fast::hash(body.as_bytes())
    );
    let path = dir.join(name);
    fs::replace_durable(fs, &path, text.as_bytes()).map_err(io_error("replacing", &path))
}

/// Reads `dir/name` and parses its body as JSON; `None` if the file does not exist.
///
/// Errors: [`Error::Corruption`] for a bad checksum or JSON that does not parse,
/// [`Error::Io`].
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    fs: &dyn FileSystem,
    dir: &Path,
    name: &str,
    kind: &str,
) -> Result<Option<T>> {
    let Some(body) = read(fs, dir, name, kind)? else {
        return Ok(None);
    };
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| corrupt(&dir.join(name), format!("invalid {kind} JSON: {e}")))
}

/// Replaces `dir/name` with `value` as JSON, atomically and durably.
///
/// Errors: [`Error::Io`].
pub(crate) fn write_json<T: serde::Serialize>(
    fs: &dyn FileSystem,
    dir: &Path,
    name: &str,
    kind: &str,
    value: &T,
) -> Result<()> {
    let body = serde_json::to_string_pretty(value)
        .map_err(|e| corrupt(&dir.join(name), format!("cannot serialise the {kind}: {e}")))?;
    write(fs, dir, name, kind, &body)
}
