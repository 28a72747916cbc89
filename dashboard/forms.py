from django import forms

from karma.models import MAX_NAME_LENGTH, LedgerEntry


class LedgerFilter(forms.Form):
    name = forms.CharField(required=False, max_length=MAX_NAME_LENGTH, help_text="A name, exactly.")
    person = forms.CharField(required=False, max_length=100, help_text="Who made the change: their name or Discord id.")
    source = forms.ChoiceField(required=False, choices=[("", "any"), *LedgerEntry.Source.choices])
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    # Where the page starts (older rows than this one): the "Older" link's, not a field people fill.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
