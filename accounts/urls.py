from django.urls import path

from accounts import automap_views, directory_views, import_views, views

app_name = "accounts"

urlpatterns = [
    path("directory/", directory_views.directory, name="directory"),
    path("directory/sync/", directory_views.directory_sync, name="directory_sync"),
    path("directory/interval/", directory_views.directory_interval, name="directory_interval"),
    path("mapping/", views.mapping, name="mapping"),
    path("mapping/bulk/", views.mapping_bulk, name="mapping_bulk"),
    path("mapping/automap/<int:unit_id>/", automap_views.automap, name="automap"),
    path("mapping/agents/<int:agent_id>/", views.remap, name="remap"),
    path("agents/import/", import_views.agents_import, name="agents_import"),
]
