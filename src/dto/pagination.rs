//! Opaque keyset cursors: the sort key of the last item of a page, base64url-encoded.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub fn encode_cursor(key: &[i64]) -> String {
    let text = key.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    URL_SAFE_NO_PAD.encode(format!("k1:{text}"))
}

/// Decodes a cursor made by `encode_cursor` with `parts` numbers.
pub fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<i64>, AppError> {
    let invalid = || AppError::BadRequest("`cursor` is not a cursor this endpoint returned".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let numbers = text.strip_prefix("k1:").ok_or_else(invalid)?;
    let key: Vec<i64> =
        numbers.split(',').map(|n| n.parse::<i64>()).collect::<Result<_, _>>().map_err(|_| invalid())?;
    if key.len() != parts {
        return Err(invalid());
    }
    Ok(key)
}

/// The id in a one-part cursor (`next_cursor` of an id-keyed list), if one was given.
pub fn cursor_id(cursor: Option<&str>) -> Result<Option<i64>, AppError> {
    Ok(cursor.map(|c| decode_cursor(c, 1)).transpose()?.map(|key| key[0]))
}

/// `limit` query parameter: default 50, 1 to 200.
pub fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(AppError::BadRequest(format!("`limit` is {n}; it must be from 1 to {MAX_LIMIT}"))),
    }
}

/// Splits a page fetched with `limit + 1` rows into the page and the next cursor.
pub fn paginate<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Vec<i64>) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|last| encode_cursor(&key(last)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let cursor = encode_cursor(&[42, 7]);
        assert_eq!(decode_cursor(&cursor, 2).unwrap(), vec![42, 7]);
        assert!(decode_cursor(&cursor, 1).is_err());
        assert!(decode_cursor("not a cursor!", 1).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("k1:x"), 1).is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(page_limit(None).unwrap(), 50);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(201)).is_err());
    }

    #[test]
    fn paginate_sets_next_cursor_only_when_more() {
        let (page, next) = paginate(vec![5, 4, 3], 2, |n| vec![*n]);
        assert_eq!(page, vec![5, 4]);
        assert_eq!(decode_cursor(&next.unwrap(), 1).unwrap(), vec![4]);
        let (_, next) = paginate(vec![5, 4], 2, |n| vec![*n]);
        assert!(next.is_none());
    }
}
