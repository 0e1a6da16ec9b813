//! A typed call that is sent when awaited, with per-call options set fluently before:
//! `client.members().query_member(request).timeout(d).await`. The generated clients
//! return it from every endpoint method, so a per-call timeout or retry policy never
//! needs a second client (which would need its own token state, or share the store).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use super::retry::{CallOptions, RetryPolicy};
use super::{Client, Response};
use crate::endpoint::Endpoint;
use crate::error::Error;

/// What a finished call yields from the typed reply (boxed: it is large, and moved out
/// of the box once, into the call's output): its data, or the whole response.
type Finish<E, T> =
    fn(Box<Response<<E as Endpoint>::Data>>) -> Result<T, Error<<E as Endpoint>::Code>>;

/// One call of endpoint `E`, sent when awaited (through [`IntoFuture`]); `T` is what it
/// yields: the data ([`Call::data`]) or the whole [`Response`] with its paging facts
/// ([`Call::response`]).
///
/// Options apply to this call only, on the same client (same token state, connections
/// and clock correction): [`Call::timeout`], [`Call::retry`], [`Call::options`].
#[must_use = "a call is sent only when awaited"]
pub struct Call<'c, E: Endpoint, T> {
    client: &'c Client,
    request: E,
    options: CallOptions,
    finish: Finish<E, T>,
}

impl<'c, E: Endpoint> Call<'c, E, E::Data>
where
    E::Data: Default,
{
    /// A call that yields the reply's `data`. A success without data is an error for
    /// every endpoint that has data ([`EndpointInfo::data_required`]); those without
    /// yield `()`.
    ///
    /// [`EndpointInfo::data_required`]: crate::EndpointInfo::data_required
    pub fn data(client: &'c Client, request: E) -> Self {
        Call {
            client,
            request,
            options: CallOptions::default(),
            // `decode` refused a missing `data` where the endpoint requires one.
            finish: |response| Ok(response.data.unwrap_or_default()),
        }
    }
}

impl<'c, E: Endpoint> Call<'c, E, Response<E::Data>> {
    /// A call that yields the whole [`Response`]: data and the envelope's paging facts.
    pub fn response(client: &'c Client, request: E) -> Self {
        Call {
            client,
            request,
            options: CallOptions::default(),
            finish: |response| Ok(*response),
        }
    }
}

impl<E: Endpoint, T> Call<'_, E, T> {
    /// The most time this call may take, retries included (see
    /// [`CallOptions::timeout`] for what it bounds and what it does not).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Uses `policy` instead of the client's retry policy for this call
    /// ([`RetryPolicy::NONE`]: a single attempt).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Replaces every per-call option at once.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// The request this call will send.
    pub fn request(&self) -> &E {
        &self.request
    }
}

impl<'c, E, T> IntoFuture for Call<'c, E, T>
where
    E: Endpoint + 'c,
    T: Send + 'c,
{
    type Output = Result<T, Error<E::Code>>;
    /// Boxed: the call's future is large (it holds the retry loop and the token work), and
    /// a box keeps the caller's own future small.
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        let Call {
            client,
            request,
            options,
            finish,
        } = self;
        Box::pin(async move { finish(client.send_boxed(&request, options).await?) })
    }
}

impl<E: Endpoint + std::fmt::Debug, T> std::fmt::Debug for Call<'_, E, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The request's own Debug redacts its sensitive fields.
        f.debug_struct("Call")
            .field("request", &self.request)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
