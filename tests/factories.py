import factory
from django.contrib.auth import get_user_model

from console.roles import ADMINISTRATOR, SUPERVISOR, role_assign

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            role_assign(self, extracted)
        if create:
            self.save()


def AdministratorFactory(**kwargs):
    return UserFactory(role=ADMINISTRATOR, **kwargs)


def SupervisorFactory(**kwargs):
    return UserFactory(role=SUPERVISOR, **kwargs)
