"""Populates the local cloud: real Glance images and Masakari segments,
emulated servers and compute services (with the emulator).  Used by the
tests and the demo."""
import uuid

import openstack.config
import openstack.connection
import requests


class Seeder:
    """Creates cloud objects with unique names, so that users of one cloud
    never see each other's objects by accident."""

    def __init__(self, cloud):
        self.cloud = cloud
        config = openstack.config.OpenStackConfig(
            config_files=[str(cloud.clouds_yaml)])
        self.admin = openstack.connection.Connection(
            config=config.get_one("admin"))
        self.demo = openstack.connection.Connection(
            config=config.get_one("demo"))
        self.admin.instance_ha.default_microversion = "1.2"

    @staticmethod
    def unique(prefix):
        return "%s-%s" % (prefix, uuid.uuid4().hex[:8])

    def image(self, properties=None, conn=None, visibility="public"):
        conn = conn or self.admin
        return conn.image.create_image(
            name=self.unique("img"), disk_format="raw",
            container_format="bare", visibility=visibility,
            properties=dict(properties or {}))

    def server(self, image_id=None, project="admin", host="compute-1",
               metadata=None, name=None, boot_volume=None, **extra):
        project_id = self._project_id(project)
        spec = dict(name=name or self.unique("vm"), project_id=project_id,
                    host=host, metadata=metadata or {}, **extra)
        if boot_volume is not None:
            spec["boot_volume"] = boot_volume
        else:
            spec["image_id"] = image_id
            if "image_properties" not in spec and image_id:
                # what Nova copies from the image when it builds a server
                image = self.admin.image.find_image(image_id)
                agent = image.hw_qemu_guest_agent if image else None
                spec["image_properties"] = (
                    {} if agent is None else {"hw_qemu_guest_agent": agent})
        response = requests.post(self.cloud.emulator_url +
                                 "/_emulator/servers", json=spec, timeout=10)
        response.raise_for_status()
        return response.json()["server"]

    def actions(self, server_id):
        """What was asked of one server, oldest first: the emulator's
        record (os-stop, reboot HARD...), or real Nova's instance actions
        (create, stop, start...; Nova lists the newest first)."""
        if self.cloud.real_nova is not None:
            return [a.action for a in reversed(list(
                self.admin.compute.server_actions(server_id)))]
        response = requests.get(self.cloud.emulator_url +
                                "/_emulator/servers/" + server_id, timeout=10)
        response.raise_for_status()
        return response.json()["server"]["actions"]

    def notifications_for(self, instance_uuid):
        """Masakari's VM notifications for one instance."""
        return [n for n in self.admin.instance_ha.notifications()
                if (n.payload or {}).get("instance_uuid") == instance_uuid]

    def compute_service(self, host):
        """An emulated nova-compute service on ``host``.  With real Nova
        nothing is made: its one compute host is ``cloud.real_nova.
        compute_host`` and Masakari refuses any other."""
        if self.cloud.real_nova is not None:
            return
        requests.post(self.cloud.emulator_url + "/_emulator/services",
                      json={"host": host}, timeout=10).raise_for_status()

    def segment_with_host(self, host, enabled=True, on_maintenance=False):
        self.compute_service(host)
        ha = self.admin.instance_ha
        segment = ha.create_segment(name=self.unique("seg"),
                                    recovery_method="auto",
                                    service_type="COMPUTE")
        ha.create_host(segment.uuid, name=host, type="COMPUTE",
                       control_attributes="SSH")
        if on_maintenance:
            masakari_host = next(h for h in ha.hosts(segment.uuid)
                                 if h.name == host)
            ha.update_host(masakari_host.uuid, segment_id=segment.uuid,
                           on_maintenance=True)
        if not enabled:
            ha.update_segment(segment.uuid, is_enabled=False)
        return segment

    def _project_id(self, project):
        conn = self.admin if project == "admin" else self.demo
        return conn.current_project_id


    def max_microversion(self, version):
        """The emulator's maximum compute microversion (2.98: servers show
        the image properties they were built with)."""
        requests.put(self.cloud.emulator_url + "/_emulator/max_microversion",
                     json={"version": version}, timeout=10
                     ).raise_for_status()
