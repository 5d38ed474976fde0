//! Opaque keyset cursors: the sort key of the last item of a page, base64url-encoded.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::AppError;

/// `limit` and `cursor` of a list request, read and checked in this one place. A list's
/// query type still declares both (for the document, and so unknown parameters are
/// refused), but only this extractor reads them.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    cursor: Option<String>,
}

impl Page {
    /// Rows to read: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The id after which this page starts (lists keyed by id, newest first).
    pub fn after_id(&self) -> Result<Option<i64>, AppError> {
        cursor_id(self.cursor.as_deref())
    }

    /// The sort key after which this page starts (lists keyed by `parts` numbers).
    pub fn after_key(&self, parts: usize) -> Result<Option<Vec<i64>>, AppError> {
        self.cursor.as_deref().map(|c| decode_cursor(c, parts)).transpose()
    }

    /// A sort key that starts with a time (microseconds since the epoch), then `parts - 1`
    /// numbers.
    pub fn after_time_key(&self, parts: usize) -> Result<Option<(chrono::NaiveDateTime, Vec<i64>)>, AppError> {
        let Some(key) = self.after_key(parts)? else { return Ok(None) };
        let at = chrono::DateTime::from_timestamp_micros(key[0]).ok_or_else(not_our_cursor)?;
        Ok(Some((at.naive_utc(), key[1..].to_vec())))
    }

    /// The page's items (rows read with `fetch`, mapped to their wire form) and the
    /// cursor of the next page.
    pub fn answer<Row, Item: From<Row>>(
        &self,
        rows: Vec<Row>,
        key: impl Fn(&Row) -> Vec<i64>,
    ) -> (Vec<Item>, Option<String>) {
        let (rows, next_cursor) = paginate(rows, self.limit, key);
        (rows.into_iter().map(Item::from).collect(), next_cursor)
    }
}

impl FromRequest for Page {
    type Error = AppError;
    type Future = futures_util::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        futures_util::future::ready(Page::from_query(req.query_string()))
    }
}

impl Page {
    fn from_query(query: &str) -> Result<Page, AppError> {
        let mut limit = None;
        let mut cursor = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => {
                    let number = value.trim().parse::<i64>().map_err(|_| {
                        AppError::BadRequest(format!("query parameter `limit`: `{value}` is not a whole number"))
                    })?;
                    limit = Some(number);
                }
                "cursor" => cursor = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(Page { limit: page_limit(limit)?, cursor })
    }
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub fn encode_cursor(key: &[i64]) -> String {
    let text = key.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    URL_SAFE_NO_PAD.encode(format!("k1:{text}"))
}

/// Decodes a cursor made by `encode_cursor` with `parts` numbers.
fn not_our_cursor() -> AppError {
    AppError::BadRequest("`cursor` is not a cursor this endpoint returned".into())
}

pub fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<i64>, AppError> {
    let invalid = not_our_cursor;
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
    fn page_from_query() {
        let page = Page::from_query("status=paid&limit=2&cursor=").unwrap();
        assert_eq!((page.limit, page.fetch()), (2, 3));
        assert!(page.after_id().is_err());
        assert_eq!(Page::from_query("").unwrap().limit, DEFAULT_LIMIT);
        assert!(Page::from_query("limit=abc").is_err());
        assert!(Page::from_query("limit=0").is_err());
        let cursor = encode_cursor(&[9]);
        assert_eq!(Page::from_query(&format!("cursor={cursor}")).unwrap().after_id().unwrap(), Some(9));
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
