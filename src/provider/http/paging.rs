//! The list loops of the request pipeline: an item offset that stops at a reported total or a short page,
//! and a page-number offset that tolerates servers counting pages from 0 or from 1. Both are bounded, so a
//! server that keeps returning data cannot spin a listing forever.

use std::collections::HashSet;

use serde_json::Value;

use super::{Call, HttpResult, Pipeline, protocol};

/// Safety bound on pages per listing.
pub const MAX_PAGES: u32 = 10_000;

impl Pipeline {
    /// Lists with an item offset: `offset` = items to skip; stops at `count`/`total` or a short page.
    pub async fn list_item_offset<T, F>(
        &self,
        make: impl Fn() -> Call,
        limit: u32,
        parse: F,
    ) -> HttpResult<Vec<T>>
    where
        F: Fn(Value) -> Result<(Vec<T>, Option<u64>), serde_json::Error>,
    {
        let mut out = Vec::new();
        let mut offset: u64 = 0;
        for _ in 0..MAX_PAGES {
            let call = make().query("limit", limit).query("offset", offset);
            let op = call.op;
            let reply = self.execute(call).await?;
            let (items, total) = parse(reply.body).map_err(|e| protocol(op, e))?;
            let n = items.len() as u64;
            out.extend(items);
            offset += n;
            let done = match total {
                Some(t) => offset >= t || n == 0,
                None => n < u64::from(limit) || n == 0,
            };
            if done {
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// Lists with a page-number `offset`. Some APIs document it ambiguously ("0 returns page 1",
    /// "default 1"), so: fetch offset 0, 1, 2, ... deduplicating by id; a repeat of page 1 at offset 1
    /// (1-based server) is skipped, not taken as the end.
    pub async fn list_page_number<T, F>(
        &self,
        make: impl Fn() -> Call,
        limit: u32,
        parse: F,
        id: fn(&T) -> &str,
    ) -> HttpResult<Vec<T>>
    where
        F: Fn(Value) -> Result<(Vec<T>, Option<u64>), serde_json::Error>,
    {
        let mut out: Vec<T> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for page in 0..MAX_PAGES {
            let call = make().query("limit", limit).query("offset", page);
            let op = call.op;
            let reply = self.execute(call).await?;
            let (items, total) = parse(reply.body).map_err(|e| protocol(op, e))?;
            let n = items.len();
            let mut new = 0usize;
            for item in items {
                if seen.insert(id(&item).to_owned()) {
                    out.push(item);
                    new += 1;
                }
            }
            let complete = total.is_some_and(|t| out.len() as u64 >= t);
            let short = n < limit as usize;
            if n == 0 || complete || (total.is_none() && short) || (new == 0 && page != 1) {
                return Ok(out);
            }
        }
        Ok(out)
    }
}
