//! Paged endpoints as a stream of items, usable without any stream crate
//! ([`Items::next`], [`Items::try_collect`]), and always finite.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::Client;
use crate::endpoint::Paged;
use crate::error::Error;

/// The most pages one walk fetches by default ([`Items::max_pages`]): a server that
/// answers full pages forever (no `totalCount`, or a wrong one) cannot keep a walk going.
pub const DEFAULT_MAX_PAGES: u32 = 10_000;

struct Walk<P: Paged> {
    client: Client,
    next: Option<P>,
    buffer: VecDeque<P::Item>,
    seen: i64,
    pages: u32,
    max_pages: u32,
    /// The previous page's items: a page equal to it (a server ignoring the page number)
    /// ends the walk instead of repeating forever.
    last_page: Vec<P::Item>,
}

type ItemStream<I, C> = Pin<Box<dyn Stream<Item = Result<I, Error<C>>> + Send>>;

/// Every item of a paged endpoint, fetched page after page as it is read: a [`Stream`],
/// and also usable without one ([`Items::next`], [`Items::try_collect`]).
///
/// The walk ends after a short or empty page (even when `totalCount` announces more), when
/// the items seen reach the reply's `totalCount`, after a page equal to the one before (a
/// server that ignores the page number), or after [`Items::max_pages`] pages, whichever
/// comes first. A page is short when it has fewer items than the smaller of the size asked
/// for and the reply's `pageSize`. An error ends the walk after it is yielded.
#[must_use = "a stream fetches nothing until it is read"]
pub struct Items<P: Paged> {
    state: State<P>,
}

/// Not yet read (options can still change), or being read; `Starting` only for the
/// instant the walk moves into its stream.
enum State<P: Paged> {
    Ready(Box<Walk<P>>),
    Starting,
    Reading(ItemStream<P::Item, P::Code>),
}

impl<P: Paged> std::fmt::Debug for Items<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items").finish_non_exhaustive()
    }
}

impl<P> Items<P>
where
    P: Paged + 'static,
    P::Data: Default,
{
    /// At most `pages` pages (at least 1; default [`DEFAULT_MAX_PAGES`]). Set it before
    /// the first item is read; later it has no effect.
    pub fn max_pages(mut self, pages: u32) -> Self {
        if let State::Ready(walk) = &mut self.state {
            walk.max_pages = pages.max(1);
        }
        self
    }

    /// The next item; `None` when the walk has ended.
    pub async fn next(&mut self) -> Option<Result<P::Item, Error<P::Code>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Every item, or the first error.
    pub async fn try_collect(mut self) -> Result<Vec<P::Item>, Error<P::Code>> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }
}

impl<P> Stream for Items<P>
where
    P: Paged + 'static,
    P::Data: Default,
{
    type Item = Result<P::Item, Error<P::Code>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `Items` holds only boxed, pinned state: it is `Unpin`.
        let this = self.get_mut();
        // The first read starts the walk: options set before it apply.
        if let State::Ready(_) = this.state
            && let State::Ready(walk) = std::mem::replace(&mut this.state, State::Starting)
        {
            this.state = State::Reading(Box::pin(walk_stream(*walk)));
        }
        match &mut this.state {
            State::Reading(stream) => stream.as_mut().poll_next(cx),
            // Not reached: the walk was started just above.
            State::Ready(_) | State::Starting => Poll::Ready(None),
        }
    }
}

impl<P: Paged> Unpin for Items<P> {}

impl<P: Paged> Walk<P> {
    fn new(client: Client, request: P) -> Self {
        Walk {
            client,
            next: Some(request),
            buffer: VecDeque::new(),
            seen: 0,
            pages: 0,
            max_pages: DEFAULT_MAX_PAGES,
            last_page: Vec::new(),
        }
    }
}

fn walk_stream<P>(walk: Walk<P>) -> impl Stream<Item = Result<P::Item, Error<P::Code>>> + Send
where
    P: Paged + 'static,
    P::Data: Default,
{
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
            walk.pages = walk.pages.saturating_add(1);
            let page = response.page;
            let items = P::into_items(response.data.unwrap_or_default());
            let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
            if count > 0 && items == walk.last_page {
                tracing::warn!(
                    method = P::INFO.method,
                    page = request.page_no(),
                    "the page repeats the one before: the server ignores the page number; the walk ends"
                );
                return None;
            }
            walk.seen = walk.seen.saturating_add(count);
            let size = page.full_size(request.page_size());
            let full = size.is_some_and(|s| count >= s);
            let more = page.more_follow(request.page_size(), count, walk.seen);
            if count > 0
                && !full
                && size.is_some()
                && page.total_count.is_some_and(|t| walk.seen < t)
            {
                tracing::warn!(
                    method = P::INFO.method,
                    page = request.page_no(),
                    "a short page while totalCount announces more; the walk ends"
                );
            }
            let next_page = request.page_no().checked_add(1);
            if more && walk.pages >= walk.max_pages {
                tracing::warn!(
                    method = P::INFO.method,
                    pages = walk.pages,
                    "the page bound is reached with more pages announced; the walk ends"
                );
            } else if let (true, Some(next)) = (more, next_page) {
                walk.next = Some(request.with_page_no(next));
            }
            walk.last_page.clear();
            // Kept only to compare with the next page; moved into the buffer otherwise.
            if walk.next.is_some() {
                walk.last_page.extend(items.iter().cloned());
            }
            walk.buffer.extend(items);
        }
    })
}

impl Client {
    /// Every item of a paged endpoint, page after page from `request`'s page, fetched as
    /// it is read: see [`Items`] for when the walk ends.
    pub fn items<P>(&self, request: P) -> Items<P>
    where
        P: Paged + 'static,
        P::Data: Default,
    {
        Items {
            state: State::Ready(Box::new(Walk::new(self.clone(), request))),
        }
    }
}
