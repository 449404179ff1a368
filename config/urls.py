from django.urls import include, path

urlpatterns = [
    path("", include("console.urls")),
    path("", include("integrations.urls")),
]

handler403 = "console.views.forbidden"
