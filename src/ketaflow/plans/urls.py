"""Plans, mounted at /plans/: the protocol library, the dose calculator, and patients' plans."""

from django.urls import path

from . import library_views, plan_views

app_name = "plans"
urlpatterns = [
    path("", library_views.library_list, name="library"),
    path("protocols/<slug:key>/", library_views.protocol_detail, name="protocol"),
    path("protocols/<slug:key>/clone/", library_views.clone, name="clone"),
    path("protocols/<slug:key>/versions/<int:number>/retire/", library_views.retire, name="retire"),
    path("calculator/", library_views.calculator, name="calculator"),
    path("patients/<uuid:patient_id>/new/", plan_views.new_plan, name="new"),
    path("patients/<uuid:patient_id>/preview/", plan_views.preview, name="preview"),
    path("<uuid:plan_id>/", plan_views.detail, name="detail"),
    path("<uuid:plan_id>/sign/", plan_views.sign, name="sign"),
    path("<uuid:plan_id>/dose/", plan_views.dose, name="dose"),
    path("<uuid:plan_id>/phase/", plan_views.phase, name="phase"),
    path("review-points/<uuid:review_point_id>/resolve/", plan_views.resolve, name="resolve"),
]
