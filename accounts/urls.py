from django.urls import path

from accounts import directory_views, views

app_name = "accounts"

urlpatterns = [
    path("directory/", directory_views.directory, name="directory"),
    path("directory/sync/", directory_views.directory_sync, name="directory_sync"),
    path("directory/interval/", directory_views.directory_interval, name="directory_interval"),
    path("mapping/", views.mapping, name="mapping"),
    path("mapping/bulk/", views.mapping_bulk, name="mapping_bulk"),
    path("mapping/automap/<int:unit_id>/", views.automap, name="automap"),
    path("mapping/agents/<int:agent_id>/", views.remap, name="remap"),
    path("agents/import/", views.agents_import, name="agents_import"),
]
