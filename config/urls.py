from django.urls import include, path

urlpatterns = [
    path("", include("console.urls")),
]

handler403 = "console.views.forbidden"
