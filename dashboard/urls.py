from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("summary.json", views.summary, name="summary"),
    path("health/", views.health, name="health"),
    path("metrics/", views.metrics, name="metrics"),
    path("triggers/<int:pk>/<str:kind>/", views.trigger_action, name="trigger_action"),
    path("failures/<str:kind>/", views.group_action, name="group_action"),
    path("types/<str:kind>/", views.type_control, name="type_control"),
    path("schedules/<int:pk>/<str:kind>/", views.schedule_control, name="schedule_control"),
]
