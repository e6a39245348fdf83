from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)
    version = models.CharField(max_length=40, blank=True, help_text="The release that created it")

    def __str__(self):
        return self.text
