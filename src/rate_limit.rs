//! Per-client-IP rate limit for the public endpoints (forms and email links): a fixed
//! one-minute window, with IETF `RateLimit-*` headers and 429 + `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::AppError;
use crate::extract::client_ip;
use crate::state::AppState;

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked clients, expired windows are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

/// The outcome for one request.
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

impl RateLimiter {
    pub fn new(limit_per_minute: u32) -> Self {
        RateLimiter { limit: limit_per_minute, windows: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, client: Option<IpAddr>, now: Instant) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (started, _)| now.duration_since(*started) < WINDOW);
        }
        let (started, count) = windows.entry(client).or_insert((now, 0));
        if now.duration_since(*started) >= WINDOW {
            *started = now;
            *count = 0;
        }
        let allowed = *count < self.limit;
        if allowed {
            *count += 1;
        }
        let elapsed = now.duration_since(*started);
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - *count,
            reset_secs: (WINDOW - elapsed).as_secs_f64().ceil() as u64,
        }
    }
}

/// Middleware for the public scopes.
pub async fn limit_per_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::internal("state missing"))?;
    let decision = state.rate_limiter.check(client_ip(req.request(), state.config.forms.trust_proxy), Instant::now());
    let mut response = if decision.allowed {
        next.call(req).await?.map_into_boxed_body()
    } else {
        let error = AppError::RateLimited { retry_after_secs: decision.reset_secs };
        req.error_response(error).map_into_boxed_body()
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", decision.limit as u64),
        ("ratelimit-remaining", decision.remaining as u64),
        ("ratelimit-reset", decision.reset_secs),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_the_limit_then_refuses_until_it_resets() {
        let limiter = RateLimiter::new(2);
        let start = Instant::now();
        let ip = Some("203.0.113.9".parse().unwrap());
        assert!(limiter.check(ip, start).allowed);
        let second = limiter.check(ip, start);
        assert!(second.allowed && second.remaining == 0);
        let third = limiter.check(ip, start + Duration::from_secs(10));
        assert!(!third.allowed);
        assert_eq!(third.reset_secs, 50);
        assert!(limiter.check(Some("203.0.113.10".parse().unwrap()), start).allowed, "per IP");
        assert!(limiter.check(ip, start + WINDOW).allowed, "a new window");
    }
}
