//! Live views streamed to clients (a driver's manifest, the operators' day
//! board): render once, then again whenever the service's plans or road
//! change, and send only what differs, each time with a higher version.

use std::future::Future;
use tokio::sync::{mpsc, watch};
use tonic::Status;

/// Something a client follows.
pub trait LiveView: Send + 'static {
    type Item: PartialEq + Clone + Send + 'static;

    /// The view as stored now.
    fn render(&mut self) -> impl Future<Output = Result<Self::Item, Status>> + Send;

    /// Called before an item is sent (to audit what it shows).
    fn shown(&mut self, item: &Self::Item) -> impl Future<Output = Result<(), Status>> + Send;

    /// The item with its version set.
    fn stamp(item: Self::Item, version: u64) -> Self::Item;
}

/// Streams `first` and every later different rendering of `view`, until the
/// client goes or the service stops. `changes` must be subscribed before
/// `first` was rendered, so nothing that changed meanwhile is missed.
pub fn follow<V: LiveView>(
    mut view: V,
    first: V::Item,
    mut changes: watch::Receiver<u64>,
) -> tokio_stream::wrappers::ReceiverStream<Result<V::Item, Status>> {
    let (tx, rx) = mpsc::channel::<Result<V::Item, Status>>(4);
    tokio::spawn(async move {
        let mut sent: Option<V::Item> = None;
        let mut version = 0u64;
        let mut next = Ok(first);
        loop {
            match next {
                Ok(item) if sent.as_ref() != Some(&item) => {
                    if let Err(status) = view.shown(&item).await {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                    version += 1;
                    if tx.send(Ok(V::stamp(item.clone(), version))).await.is_err() {
                        return;
                    }
                    sent = Some(item);
                }
                Ok(_) => {}
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tx.closed() => return,
            }
            next = view.render().await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
