//! Paged endpoints as a stream of items.

use std::collections::VecDeque;

use futures_core::Stream;

use super::Client;
use crate::endpoint::Paged;
use crate::error::Error;

struct Walk<P: Paged> {
    client: Client,
    next: Option<P>,
    buffer: VecDeque<P::Item>,
    seen: i64,
}

impl Client {
    /// Every item of a paged endpoint, page after page from `request`'s page, fetched as
    /// the stream is read. The walk ends after a short or empty page, or when the items
    /// seen reach the reply's `totalCount`. An error ends the stream after it is yielded.
    pub fn items<P>(
        &self,
        request: P,
    ) -> impl Stream<Item = Result<P::Item, Error<P::Code>>> + Send + 'static
    where
        P: Paged + 'static,
        P::Data: Default,
    {
        let walk = Walk {
            client: self.clone(),
            next: Some(request),
            buffer: VecDeque::new(),
            seen: 0,
        };
        futures_util::stream::unfold(walk, |mut walk| async move {
            loop {
                if let Some(item) = walk.buffer.pop_front() {
                    return Some((Ok(item), walk));
                }
                let request = walk.next.take()?;
                let response = match walk.client.send(&request).await {
                    Ok(response) => response,
                    Err(e) => return Some((Err(e), walk)),
                };
                let page = response.page;
                let items = P::into_items(response.data.unwrap_or_default());
                let count = items.len() as i64;
                walk.seen += count;
                let size = request.page_size().or(page.page_size);
                let more = count > 0
                    && match page.total_count {
                        Some(total) => walk.seen < total,
                        None => size.is_some_and(|s| count >= s),
                    };
                if more {
                    walk.next = Some(request.with_page_no(request.page_no() + 1));
                }
                walk.buffer.extend(items);
            }
        })
    }
}
