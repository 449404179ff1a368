"""Routes of presence sync (namespace "sync"): subscriptions, the Graph webhook, the board."""

from presence import inbound_urls, outbound_urls, subscription_urls

app_name = "sync"

urlpatterns = [
    *subscription_urls.urlpatterns,
    *inbound_urls.urlpatterns,
    *outbound_urls.urlpatterns,
]
